"""The one backoff rule, as a table: the waits every retrying loop gets, to the last digit."""

from __future__ import annotations

import random

import pytest

from importer.sending.backoff import Backoff
from importer.sending.client import LOOKUP_BACKOFF
from importer.sending.delivery import RetryPolicy
from importer.sending.outage import OutagePolicy

ROW = RetryPolicy().backoff  # a row's transient failure: base 1, cap 30, full jitter
PROBE = OutagePolicy().backoff  # the probe of a host that is down: base 1, cap 30


@pytest.mark.parametrize(
    ("backoff", "retry", "ceiling"),
    [
        (ROW, 1, 1.0),
        (ROW, 2, 2.0),
        (ROW, 3, 4.0),
        (ROW, 4, 8.0),
        (ROW, 5, 16.0),
        (ROW, 6, 30.0),  # 32, capped
        (ROW, 50, 30.0),
        (PROBE, 1, 1.0),
        (PROBE, 5, 16.0),
        (PROBE, 6, 30.0),
        (LOOKUP_BACKOFF, 1, 0.2),
        (LOOKUP_BACKOFF, 2, 0.4),
        (LOOKUP_BACKOFF, 3, 0.8),
        (LOOKUP_BACKOFF, 4, 1.0),  # 1.6, capped
        (LOOKUP_BACKOFF, 9, 1.0),
        (Backoff(0.02, 0.2), 1, 0.02),  # the tests' fast policy
        (Backoff(0.02, 0.2), 4, 0.16),
        (Backoff(0.02, 0.2), 5, 0.2),
        (Backoff(0.0, 0.0), 3, 0.0),  # no waiting at all
        (Backoff(3.0, 1.0), 1, 1.0),  # a base above the cap: the cap from the first retry
        (Backoff(1.0, 30.0), 10**6, 30.0),  # no overflow however long an outage lasts
        (Backoff(1e-300, 30.0), 2000, 30.0),
    ],
)
def test_the_ceiling_doubles_from_the_base_up_to_the_cap(
    backoff: Backoff, retry: int, ceiling: float
):
    assert backoff.ceiling(retry) == ceiling


@pytest.mark.parametrize(
    ("backoff", "retry", "delay"),
    [
        (PROBE, 1, 1.0),
        (PROBE, 3, 4.0),
        (LOOKUP_BACKOFF, 2, 0.4),
        (Backoff(0.5, 10.0), 3, 2.0),
    ],
)
def test_without_jitter_the_wait_is_the_ceiling(backoff: Backoff, retry: int, delay: float):
    assert backoff.delay(retry) == delay
    assert backoff.delay(retry, random.Random(1)) == delay  # a generator draws nothing


@pytest.mark.parametrize("seed", [0, 1, 7, 2026])
@pytest.mark.parametrize(
    ("backoff", "retry"), [(ROW, 1), (ROW, 4), (ROW, 9), (Backoff(0.02, 0.2, True), 3)]
)
def test_full_jitter_is_one_draw_between_zero_and_the_ceiling(
    backoff: Backoff, retry: int, seed: int
):
    drawn = backoff.delay(retry, random.Random(seed))
    assert drawn == random.Random(seed).uniform(0, backoff.ceiling(retry))
    assert 0 <= drawn <= backoff.ceiling(retry)


def test_full_jitter_without_a_generator_draws_from_the_modules():
    random.seed(42)
    drawn = ROW.delay(5)
    random.seed(42)
    assert drawn == random.uniform(0, 16.0)


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 5, 10, 1000])
def test_the_waits_are_those_of_the_loops_before_they_shared_the_rule(retry: int):
    # Delivery: min(cap, base * 2**(n - 1)), drawn uniformly from 0
    for base, cap in [(1.0, 30.0), (0.02, 0.2), (0.5, 7.3)]:
        before = min(cap, base * 2 ** (retry - 1))
        assert Backoff(base, cap, jitter=True).ceiling(retry) == before
    # LeadSquaredClient.lookup: min(2**failures, 10) * 0.1
    assert LOOKUP_BACKOFF.delay(retry) == min(2**retry, 10) * 0.1
    # Link: first_probe, doubled after each failed probe up to probe_cap
    for first, cap in [(1.0, 30.0), (0.2, 1.0), (0.01, 0.02)]:
        wait = first
        for _ in range(retry - 1):
            wait = min(wait * 2, cap)
        assert Backoff(first, cap).delay(retry) == wait


@pytest.mark.parametrize("retry", [0, -1])
def test_retries_count_from_one(retry: int):
    with pytest.raises(ValueError, match="retries count from 1"):
        ROW.ceiling(retry)


def test_the_policies_build_their_backoff_from_their_own_numbers():
    assert RetryPolicy(backoff_base=0.02, backoff_cap=0.2).backoff == Backoff(0.02, 0.2, True)
    assert OutagePolicy(first_probe=0.2, probe_cap=0.5).backoff == Backoff(0.2, 0.5)
