"""Where to send and with which keys: host, region, access and secret keys.

Keys come from ``LSQ_ACCESS_KEY`` / ``LSQ_SECRET_KEY`` (or a ``.env`` file in the working
folder); the host from ``--host``, ``--region`` or ``LSQ_HOST``, or, when none is given, from
the account itself (``discover``: asked of ``LSQ_DISCOVERY_HOST``, by default the Singapore
host). Keys travel only in the ``x-LSQ-*`` headers, never in a URL, and ``Connection.redact``
scrubs them from any text shown.

Some proxies and gateways echo a request's headers in their error pages, so a key can come back
in any text an answer holds, in whatever form the page writes it. ``redact`` knows these forms,
character by character, in any mix: verbatim, percent-encoded (hex in either case, ``+`` for a
space), JSON-escaped (``\\u0024``, ``\\/``), HTML-escaped (``&#36;``, ``&#x24;``, ``&dollar;``),
and with its letters' case changed. The client applies it to every answer and every exception
message as it arrives, before anything reads them.
"""

from __future__ import annotations

import html.entities
import ipaddress
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from importer.errors import ConfigError, Problem

DISCOVERY_HOST = "https://api.leadsquared.com"
REGIONS = {
    "sg": "api.leadsquared.com",
    "us11": "api-us11.leadsquared.com",
    "in21": "api-in21.leadsquared.com",
    "in22": "api-in22.leadsquared.com",
    "ir31": "api-ir31.leadsquared.com",
    "ca12": "api-ca12.leadsquared.com",
}


@dataclass(frozen=True)
class Connection:
    """A LeadSquared host and the keys for it. ``repr`` never shows the keys."""

    base_url: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    #: No host was given: ``base_url`` is where to ask UserByAccessKey.Get for the account's.
    discover: bool = False

    def headers(self) -> dict[str, str]:
        return {"x-LSQ-AccessKey": self.access_key, "x-LSQ-SecretKey": self.secret_key}

    def redact(self, text: str) -> str:
        """``text`` with the keys replaced by ``***``, in every form an echo may give them (see
        the module's docstring), however short a key: for anything a person or a file will
        see."""
        pattern = _pattern(self.access_key, self.secret_key)
        return pattern.sub(REDACTED, text) if pattern is not None else text


REDACTED = "***"
#: The HTML entity names of each character that has one (``$``: ``dollar;``).
_ENTITIES: dict[str, list[str]] = {}
for _name, _char in html.entities.html5.items():
    if len(_char) == 1:
        _ENTITIES.setdefault(_char, []).append(_name)


@lru_cache(maxsize=8)
def _pattern(*keys: str) -> re.Pattern[str] | None:
    """One expression for every form of every key, the longest key first (one key may hold
    the other); None when there is no key."""
    unique = sorted({key for key in keys if key}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join("".join(map(_forms, key)) for key in unique), re.IGNORECASE)


def _forms(char: str) -> str:
    """An expression for one character of a key, in each form an echo may write it."""
    code = ord(char)
    forms = [re.escape(char)]
    forms.append("".join(f"%{byte:02x}" for byte in char.encode("utf-8")))  # hex: any case
    if char == " ":
        forms.append(r"\+")  # a form's encoding of a space
    if char == "+":
        forms.append(" ")  # a plus sign decoded as a form's space
    if code > 0xFFFF:  # JSON writes it as a surrogate pair
        high, low = divmod(code - 0x10000, 0x400)
        forms.append(re.escape(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"))
    else:
        forms.append(re.escape(f"\\u{code:04x}"))
    if char in '/\\"':
        forms.append(re.escape(f"\\{char}"))  # JSON's \/, \\ and \"
    forms.append(f"&#0*{code};")
    forms.append(f"&#x0*{code:x};")
    forms.extend(re.escape(f"&{name}") for name in _ENTITIES.get(char, ()))
    return f"(?:{'|'.join(forms)})"


def resolve_connection(
    host: str | None, region: str | None, env: dict[str, str] | None = None
) -> Connection:
    """The connection from options and the environment; ConfigError names what is missing."""
    env = dict(os.environ if env is None else env)
    dotenv = Path(".env")
    if dotenv.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(dotenv).items():
            if value is not None:
                env.setdefault(key, value)
    problems = []
    if host and region:
        problems.append(Problem("--host/--region", "give one of --host and --region, not both"))
    if region:
        if region.lower() not in REGIONS:
            problems.append(
                Problem("--region", f"unknown region {region!r}; one of {', '.join(REGIONS)}")
            )
            url = ""
        else:
            url = f"https://{REGIONS[region.lower()]}"
    else:
        url = host or env.get("LSQ_HOST", "")
    discover = not url and not region
    if discover:  # UserByAccessKey.Get answers on any host and names the account's own
        url = env.get("LSQ_DISCOVERY_HOST") or DISCOVERY_HOST
    if url:
        url = url if "://" in url else f"https://{url}"
        problem = check_url(url)
        if problem:
            problems.append(Problem("host", problem))
    access, secret = env.get("LSQ_ACCESS_KEY", ""), env.get("LSQ_SECRET_KEY", "")
    if not access or not secret:
        problems.append(
            Problem(
                "keys",
                "set LSQ_ACCESS_KEY and LSQ_SECRET_KEY in the environment or in a "
                ".env file (LeadSquared: Settings → API and Webhooks → Access Keys)",
            )
        )
    if problems:
        raise ConfigError(problems)
    return Connection(url.rstrip("/"), access, secret, discover)


def check_url(url: str) -> str | None:
    """Why ``url`` is no host to send the keys to, or None: it must be an http(s) URL without a
    query or credentials, and HTTPS unless it is loopback. Checked wherever a host comes from:
    the options, the environment, or the account's own answer."""
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # each raises on a malformed URL
    except ValueError as exc:
        return (
            f"{url!r} is not a valid URL ({exc}): give a host such as "
            "https://api-in21.leadsquared.com, or --region"
        )
    if parts.scheme not in ("http", "https") or not hostname:
        return f"{url!r} is not an http(s) URL"
    if parts.query or parts.username or parts.password:
        return "the host URL must not carry a query string or credentials; keys go in LSQ_* only"
    if parts.scheme == "http" and not is_loopback(hostname):
        return f"{url!r} is plain HTTP: LeadSquared needs HTTPS (http is allowed for loopback only)"
    return None


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
