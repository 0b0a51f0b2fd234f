"""A local server that behaves like LeadSquared, awkward parts included.

schema.py   the account: lead fields, custom field sets, activity types (default_schema.yaml)
state.py    settings, stored leads and activities, the rate window, counters
app.py      the aiohttp application: LeadSquared's paths, errors and faults
bulk.py     the bulk endpoints: lead upsert and activities, 25 records a call, per-row errors
checks.py   what a CreateCustom body or a bulk record must be, and the MX errors refusing it
echo.py     answers that echo the keys, as some proxies' error pages do
shapes.py   the shapes its metadata and bulk answers come in (--metadata-shape, bulk_shape)
server.py   running it: foreground, inside a loop, or in a thread
"""

from importer.sandbox.server import RunningSandbox, serve, serve_in_thread
from importer.sandbox.state import SandboxConfig, State, parse_rate

__all__ = ["RunningSandbox", "SandboxConfig", "State", "parse_rate", "serve", "serve_in_thread"]
