"""HubSpot's figures for the hub's limiter: a share of the portal's budget and of
search's, on an injected clock, and the settings that choose them."""

from __future__ import annotations

import pytest
from limits.storage import MemoryStorage

from carehub_hubspot.ratelimit import portal_limiter, search_limiter
from carehub_hubspot.runtime import from_config
from hub.errors import ConfigurationError


def take(limiter, key, count):
    return [limiter.acquire(key) for _ in range(count)]


def test_a_portal_gets_three_quarters_of_100_calls_per_10_seconds(clock):
    limiter = portal_limiter(clock=clock)

    waits = take(limiter, "portal:1", 76)

    assert waits[:75] == [0.0] * 75
    assert waits[75] == pytest.approx(10.0)


def test_search_has_its_own_smaller_budget(clock):
    portal = portal_limiter(clock=clock)
    search = search_limiter(clock=clock)

    waits = take(search, "portal:1", 4)

    assert waits[:3] == [0.0] * 3
    assert 0 < waits[3] <= 1.0
    assert portal.acquire("portal:1") == 0.0


def test_the_runtime_reads_its_share_and_storage_from_the_settings():
    settings = {"HUB_HUBSPOT_RATE_SHARE": "0.5", "HUB_RATE_LIMIT_STORAGE": "memory://"}

    rt = from_config(settings)

    assert rt.limiter.budget("portal:1") == 50
    assert isinstance(rt.limiter.storage, MemoryStorage)
    assert rt.search_limiter.budget("portal:1") == 2
    assert rt.search_limiter.namespace != rt.limiter.namespace
    assert from_config(settings).limiter is rt.limiter


def test_without_a_storage_each_runtime_counts_alone():
    first = from_config({})
    second = from_config({})

    assert first.limiter.budget("portal:1") == 75
    assert first.limiter is not second.limiter


@pytest.mark.parametrize(
    "share", ("1.5", "none", "0"), ids=("above-one", "text", "zero")
)
def test_a_wrong_share_is_refused_with_the_fix(share):
    with pytest.raises(ConfigurationError, match="HUB_HUBSPOT_RATE_SHARE"):
        from_config({"HUB_HUBSPOT_RATE_SHARE": share})
