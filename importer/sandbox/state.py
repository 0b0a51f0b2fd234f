"""What the sandbox remembers: its settings, the leads and activities it stored, its rate
windows and its counters. Nothing here does I/O; the web layer (``app.py``) drives it."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from importer.sandbox.echo import FORMS as ECHO_FORMS
from importer.sandbox.echo import KINDS as ECHO_KINDS
from importer.sandbox.schema import Schema, default_schema
from importer.sandbox.shapes import BULK_SHAPES, SHAPES, BulkShape, Shape

DEFAULT_ACCESS_KEY = "u$sandbox0access0key"
DEFAULT_SECRET_KEY = "sandbox$secret$key0123456789"  # keys often hold '$': so does this one
#: The bulk endpoints (``bulk.py``), throttled by a window of their own.
BULK_LEADS = "/v2/LeadManagement.svc/Lead/Bulk/CreateOrUpdate"
BULK_ACTIVITIES = "/v2/ProspectActivity.svc/Bulk/CustomActivity/Add/ByLeadId"
BULK_PATHS = frozenset({BULK_LEADS, BULK_ACTIVITIES})
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*")


def parse_rate(text: str) -> tuple[int, float]:
    """'25/5s' → (25, 5.0)."""
    match = _RATE.fullmatch(text)
    if not match or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise ValueError(f"{text!r} is not a rate; write calls/seconds, e.g. 25/5s")
    return int(match.group(1)), float(match.group(2))


@dataclass
class SandboxConfig:
    """Every knob of the sandbox. Shares are 0..1; times are seconds."""

    rate_limit: int = 25
    rate_window: float = 5.0
    throttle_200_share: float = 0.3  # throttles answered as HTTP 200 + MX body, not 429
    latency: float = 0.0  # median of a log-normal latency; 0 answers at once
    latency_sigma: float = 0.5  # its spread: p99 is about e^(2.33 sigma) times the median
    fail_rate: float = 0.0  # non-MX 500s, nothing written
    drop_rate: float = 0.0  # written, then the connection is dropped before the answer
    slow_rate: float = 0.0  # answered only after slow_seconds (written then)
    slow_seconds: float = 30.0
    race: str = "duplicate"  # two calls creating one new lead: 'duplicate' leads, or 'error'
    seed: int | None = None
    access_key: str = DEFAULT_ACCESS_KEY
    secret_key: str = DEFAULT_SECRET_KEY
    schema: Schema = field(default_factory=default_schema)
    #: The API host UserByAccessKey.Get names (LSQCommonServiceURLs.api); default: the host the
    #: call came to. Another sandbox's address makes this one a "wrong region" host.
    api_host: str | None = None
    #: How the metadata calls answer: one of ``shapes.SHAPES`` (the shape of a custom field
    #: set's fields, of flags, options and lengths is not documented).
    metadata_shape: str = "nested"
    #: Answer every API call that passes the keys and the rate limit with a page that echoes
    #: the keys: one of ``echo.KINDS`` ("" answers normally).
    echo_keys: str = ""
    #: The bulk throttle, apart from the standard one: the rate-limits page says 1 call per 5 s
    #: on every plan in one version, 5 or 10 in another; the strictest is the default.
    bulk_rate_limit: int = 1
    bulk_rate_window: float = 5.0
    #: Whether a bulk call counts against the standard window too (not documented; the
    #: standard limit counts "every API call", so by default it does).
    bulk_counts_as_standard: bool = True
    bulk_max_rows: int = 25  # records a bulk call may carry; more and the call is refused
    #: How the bulk calls answer: one of ``shapes.BULK_SHAPES`` (seen in code, not documented).
    bulk_shape: str = "seen-in-code"

    def __post_init__(self) -> None:
        if self.metadata_shape not in SHAPES:
            raise ValueError(
                f"{self.metadata_shape!r} is not a metadata shape: {', '.join(SHAPES)}"
            )
        if self.bulk_shape not in BULK_SHAPES:
            raise ValueError(f"{self.bulk_shape!r} is not a bulk shape: {', '.join(BULK_SHAPES)}")
        if self.echo_keys and self.echo_keys not in ECHO_KINDS:
            raise ValueError(f"{self.echo_keys!r} is not an echo: {', '.join(ECHO_KINDS)}")

    @property
    def shape(self) -> Shape:
        return SHAPES[self.metadata_shape]

    @property
    def bulk(self) -> BulkShape:
        return BULK_SHAPES[self.bulk_shape]

    def describe(self) -> dict[str, Any]:
        return {
            "rate": f"{self.rate_limit}/{self.rate_window:g}s",
            "throttle_200_share": self.throttle_200_share,
            "latency": self.latency,
            "latency_sigma": self.latency_sigma,
            "fail_rate": self.fail_rate,
            "drop_rate": self.drop_rate,
            "slow_rate": self.slow_rate,
            "slow_seconds": self.slow_seconds,
            "race": self.race,
            "seed": self.seed,
            "metadata_shape": self.metadata_shape,
            "echo_keys": self.echo_keys,
            "bulk_rate": f"{self.bulk_rate_limit}/{self.bulk_rate_window:g}s",
            "bulk_counts_as_standard": self.bulk_counts_as_standard,
            "bulk_max_rows": self.bulk_max_rows,
            "bulk_shape": self.bulk_shape,
        }


class SlidingWindow:
    """At most ``limit`` calls in any ``window`` seconds, per key, counting every call that
    arrives, the throttled ones too (the strictest reading of LeadSquared's limit)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._arrivals: dict[str, deque[float]] = {}
        self.admitted: deque[float] = deque(maxlen=100_000)  # when calls were let through
        self.admitted_paths: deque[str] = deque(maxlen=100_000)  # and what they called
        self.refused: deque[float] = deque(maxlen=100_000)  # when calls were throttled
        self._last = 0.0  # when the last call arrived

    def admit(self, key: str, path: str = "") -> bool:
        allowed = self.arrive(key)
        self.record(allowed, path)
        return allowed

    def arrive(self, key: str) -> bool:
        """Count a call; whether the window had room for it (not yet logged: ``record``)."""
        now = self.clock()
        arrivals = self._arrivals.setdefault(key, deque())
        while arrivals and arrivals[0] <= now - self.window:
            arrivals.popleft()
        arrivals.append(now)
        self._last = now
        return len(arrivals) <= self.limit

    def record(self, allowed: bool, path: str = "") -> None:
        """Log the last call's fate, stamped with its arrival: let through, or throttled (by
        this window or another)."""
        now = self._last
        if allowed:
            self.admitted.append(now)
            self.admitted_paths.append(path)
        else:
            self.refused.append(now)


@dataclass
class Lead:
    id: str
    fields: dict[str, Any]
    created_on: str
    modified_on: str

    def json(self) -> dict[str, Any]:
        return {
            "ProspectID": self.id,
            **self.fields,
            "CreatedOn": self.created_on,
            "ModifiedOn": self.modified_on,
        }


@dataclass
class Activity:
    id: str
    lead_id: str
    event: int
    note: str | None
    activity_datetime: str
    fields: dict[str, Any]
    created_on: str
    owner: str | None = None  # ActivityOwnerEmail (bulk calls)


class State:
    """The sandbox's memory: settings, stored records, rate windows, counters, randomness."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.window = SlidingWindow(config.rate_limit, config.rate_window, clock)
        self.bulk_window = SlidingWindow(config.bulk_rate_limit, config.bulk_rate_window, clock)
        self.random = random.Random(config.seed)
        self.leads: dict[str, Lead] = {}
        self.activities: list[Activity] = []
        self.counters: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()

    def admit(self, key: str, path: str) -> tuple[int, float] | None:
        """Count a call in its windows: None if it may go on, else the rate (calls, seconds)
        it exceeded. A bulk call counts in the bulk window and, with
        ``bulk_counts_as_standard``, in the standard one too; the bulk rate is named first."""
        config = self.config
        bulk = path in BULK_PATHS
        standard = not bulk or config.bulk_counts_as_standard
        in_standard = self.window.arrive(key) if standard else True
        in_bulk = self.bulk_window.arrive(key) if bulk else True
        allowed = in_standard and in_bulk
        if standard:
            self.window.record(allowed, path)
        if bulk:
            self.bulk_window.record(allowed, path)
        if not in_bulk:
            self.counters["bulk_throttled"] += 1
            return config.bulk_rate_limit, config.bulk_rate_window
        return None if in_standard else (config.rate_limit, config.rate_window)

    # --- randomness, seeded ---------------------------------------------------------------

    def chance(self, share: float) -> bool:
        return share > 0 and self.random.random() < share

    def latency(self) -> float:
        if self.config.latency <= 0:
            return 0.0
        return self.random.lognormvariate(math.log(self.config.latency), self.config.latency_sigma)

    def fault(self) -> str | None:
        """One draw for a CreateCustom call: 'fail', 'drop', 'slow' or None."""
        draw = self.random.random()
        for name, share in (
            ("fail", self.config.fail_rate),
            ("drop", self.config.drop_rate),
            ("slow", self.config.slow_rate),
        ):
            if draw < share:
                return name
            draw -= share
        return None

    def echo_form(self) -> str:
        """The form the next echoing answer writes the keys in: each in turn, counted."""
        form = list(ECHO_FORMS)[self.counters["echoed"] % len(ECHO_FORMS)]
        self.counters["echoed"] += 1
        self.counters[f"echoed:{form}"] += 1
        return form

    # --- leads and activities ------------------------------------------------------------

    def find_leads(self, attribute: str, value: str) -> list[Lead]:
        if attribute == "EmailAddress":
            folded = value.casefold()
            return [
                lead
                for lead in self.leads.values()
                if str(lead.fields.get("EmailAddress", "")).casefold() == folded
            ]
        if attribute in ("Phone", "Mobile"):
            digits = _digits(value)
            return [
                lead
                for lead in self.leads.values()
                if digits and _digits(str(lead.fields.get(attribute, ""))) == digits
            ]
        return [lead for lead in self.leads.values() if lead.fields.get(attribute) == value]

    def find_by_phone(self, phone: str) -> list[Lead]:
        digits = _digits(phone)
        return [
            lead
            for lead in self.leads.values()
            if digits
            and digits in (_digits(str(lead.fields.get(k, ""))) for k in ("Phone", "Mobile"))
        ]

    def upsert(self, existing: Lead | None, fields: dict[str, Any]) -> tuple[Lead, bool]:
        """Update ``existing`` or create a lead. Returns the lead and whether it is new."""
        now = _now()
        if existing is not None and existing.id in self.leads:
            existing.fields.update(fields)
            existing.modified_on = now
            self.counters["leads_updated"] += 1
            return existing, False
        lead = Lead(str(uuid.UUID(int=self.random.getrandbits(128))), dict(fields), now, now)
        self.leads[lead.id] = lead
        self.counters["leads_created"] += 1
        return lead, True

    def add_activity(
        self,
        lead: Lead,
        event: int,
        note: str | None,
        when: str | None,
        fields: dict[str, Any],
        owner: str | None = None,
    ) -> Activity:
        now = _now()
        activity = Activity(
            str(uuid.UUID(int=self.random.getrandbits(128))),
            lead.id,
            event,
            note,
            when or now,
            fields,
            now,
            owner,
        )
        self.activities.append(activity)
        self.counters["activities_created"] += 1
        return activity

    def activities_of(self, lead_id: str, event: int | None = None) -> list[Activity]:
        found = [a for a in self.activities if a.lead_id == lead_id]
        if event is not None:
            found = [a for a in found if a.event == event]
        return sorted(found, key=lambda a: a.created_on, reverse=True)

    def snapshot(self) -> dict[str, Any]:
        """Everything stored and counted, for tests and benchmarks."""
        admitted = list(self.window.admitted)
        return {
            "config": self.config.describe(),
            "counters": dict(self.counters),
            # when calls were let through (the server's clock): the rate as the server saw it
            "admitted": {
                "count": len(admitted),
                "first": admitted[0] if admitted else None,
                "last": admitted[-1] if admitted else None,
                "bulk": len(self.bulk_window.admitted),
            },
            "rejected": dict(self.rejected),
            "leads": [lead.json() for lead in self.leads.values()],
            "activities": [
                {
                    "Id": a.id,
                    "LeadId": a.lead_id,
                    "ActivityEvent": a.event,
                    "ActivityNote": a.note,
                    "ActivityDateTime": a.activity_datetime,
                    "Fields": a.fields,
                    "CreatedOn": a.created_on,
                    "ActivityOwnerEmail": a.owner,
                }
                for a in self.activities
            ],
        }

    def reset(self) -> None:
        self.leads.clear()
        self.activities.clear()
        self.counters.clear()
        self.rejected.clear()
        clock = self.window.clock
        self.window = SlidingWindow(self.config.rate_limit, self.config.rate_window, clock)
        self.bulk_window = SlidingWindow(
            self.config.bulk_rate_limit, self.config.bulk_rate_window, clock
        )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
