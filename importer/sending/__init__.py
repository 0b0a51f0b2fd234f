"""Sending: rows to LeadSquared, at the account's rate, each until its outcome is known.

delivery.py      ``Delivery``: one row per CreateCustom call, retried, a lost answer
                 checked on its lead before any re-send (the pool's ``Sender``)
client.py        HTTP through one aiohttp session, every call through the limiter
limiter.py       the rate limit, learned from the run and from throttles
outage.py        a host that stops answering: the pool pauses, then gives up
landed.py        did a lost call land? the row looked up on its lead before a resend
responses.py     what an answer means: ``classify_response``
backoff.py       how long to wait before trying again
connection.py    host and keys, kept out of every text shown
"""
