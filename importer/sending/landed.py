"""Did a lost call land? A row whose answer was lost is looked up on its lead before it is sent
again: the lead found by the row's SearchBy value, then the lead's recent activities of the
row's type, searched for the one this row's payload posts (``same_activity``) and that no other
row has claimed.

The lookups are LeadSquared's documented read calls; how an activity's note is keyed in what
they answer is not documented, so each plausible key is tried (``NOTE_KEYS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from importer.errors import LookupFailed
from importer.sending.client import LeadSquaredClient

#: The read call that finds a lead by each SearchBy attribute, and its parameter.
LOOKUPS = {
    "EmailAddress": ("/v2/LeadManagement.svc/Leads.GetByEmailaddress", "emailaddress"),
    "Phone": ("/v2/LeadManagement.svc/RetrieveLeadByPhoneNumber", "phone"),
    "Mobile": ("/v2/LeadManagement.svc/RetrieveLeadByPhoneNumber", "phone"),
}
ACTIVITIES = "/v2/ProspectActivity.svc/Retrieve"
PAGE = 25
PAGES = 4  # the most recent 100 activities of that type are searched
NOTE_KEYS = ("ActivityEvent_Note", "ActivityNote", "Note", "NotableEventDescription")


async def find_landed(
    client: LeadSquaredClient,
    row: int,
    search_by: str,
    search_value: str,
    payload: dict[str, Any],
    sent_at: dt.datetime,
    claimed: Callable[[str, int], bool],
    passed_over: list[str],
) -> tuple[tuple[str, str] | None, str]:
    """``((activity id, lead id), "")`` if a lost call of ``row`` did post its activity,
    ``(None, "")`` if it did not, and ``(None, why)`` if that cannot be known (the row is then
    sent again, marked possibly duplicated). Activities identical to this row's but claimed by
    another row are passed over, and added to ``passed_over``."""
    lookup = LOOKUPS.get(search_by)
    if lookup is None:
        return None, f"no lookup finds a lead by {search_by}"
    path, parameter = lookup
    try:
        leads = await client.lookup("GET", path, params={parameter: search_value}, row=row)
        for lead in leads if isinstance(leads, list) else []:
            lead_id = str(lead.get("ProspectID") or lead.get("ProspectId") or "")
            if not lead_id:
                continue
            found = await _find_activity(
                client, row, lead_id, payload, sent_at, claimed, passed_over
            )
            if found:
                return (found, lead_id), ""
    except (LookupFailed, AttributeError, TypeError) as exc:
        return None, f"the lookup failed: {exc}"
    return None, ""


async def _find_activity(
    client: LeadSquaredClient,
    row: int,
    lead_id: str,
    payload: dict[str, Any],
    sent_at: dt.datetime,
    claimed: Callable[[str, int], bool],
    passed_over: list[str],
) -> str | None:
    activity = payload["Activity"]
    for page in range(PAGES):
        body = {
            "Parameter": {"ActivityEvent": activity["ActivityEvent"]},
            "Paging": {"Offset": str(page * PAGE), "RowCount": str(PAGE)},
        }
        answer = await client.lookup(
            "POST", ACTIVITIES, params={"leadId": lead_id}, body=body, row=row
        )
        found = answer.get("ProspectActivities") or []
        for candidate in found:
            if not same_activity(activity, candidate, sent_at):
                continue
            activity_id = str(candidate.get("Id") or "")
            if activity_id and claimed(activity_id, row):
                if activity_id not in passed_over:
                    passed_over.append(activity_id)
                continue  # another row's: this row's own may be further on
            return activity_id
        if len(found) < PAGE:
            return None
    return None


def same_activity(sent: dict[str, Any], found: dict[str, Any], sent_at: dt.datetime) -> bool:
    """Whether an activity listed on the lead is the one this payload posts: same event, note,
    date-time and plain fields. Without a date-time of its own, the activity must also be no
    older than ten minutes before the first attempt (the server stamped it on arrival)."""
    if str(found.get("EventCode")) != str(sent["ActivityEvent"]):
        return False
    data = found.get("Data") or {}
    # The note's key in Data is not documented: compare it under whichever name is there.
    note_key = next((k for k in NOTE_KEYS if k in data), None)
    if "ActivityNote" in sent and note_key and (data[note_key] or "") != sent["ActivityNote"]:
        return False
    created = str(found.get("CreatedOn") or "")
    if "ActivityDateTime" in sent:
        if created[:19] != sent["ActivityDateTime"]:
            return False
    else:
        floor = (sent_at - dt.timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S")
        if created[:19] < floor:
            return False
    for item in sent.get("Fields", []):
        if "Fields" in item:
            continue  # custom field sets are not compared: their shape in Data varies
        if str(data.get(item["SchemaName"], "")) != item["Value"]:
            return False
    return True
