"""Where to send and with which keys: host, region, access and secret keys.

Keys come from ``LSQ_ACCESS_KEY`` / ``LSQ_SECRET_KEY`` (or a ``.env`` file in the working
folder); the host from ``--host``, ``--region`` or ``LSQ_HOST``, or, when none is given, from
the account itself (``discover``: asked of ``LSQ_DISCOVERY_HOST``, by default the Singapore
host). Keys travel only in the
``x-LSQ-*`` headers, never in a URL, and ``Secrets.redact`` scrubs them from any text shown.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
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
        """``text`` with the keys replaced, for anything a person or a file will see."""
        for secret in (self.secret_key, self.access_key):
            if secret:
                text = text.replace(secret, "***")
        return text


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
