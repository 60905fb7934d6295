"""The per-portal limiter: a share of the portal's budget, on an injected clock."""

from __future__ import annotations

import pytest
from limits.storage import MemoryStorage

from carehub_hubspot.ratelimit import (
    ClockedMemoryStorage,
    WindowLimiter,
    portal_limiter,
    search_limiter,
)


def take(limiter, key, count):
    return [limiter.acquire(key) for _ in range(count)]


def test_keeps_to_three_quarters_of_the_default_limit(clock):
    limiter = portal_limiter(clock, 0.75)

    waits = take(limiter, "portal:1", 76)

    assert waits[:75] == [0.0] * 75
    assert waits[75] == pytest.approx(10.0)


def test_the_window_moves_with_the_clock(clock):
    limiter = portal_limiter(clock, 0.75)
    take(limiter, "portal:1", 40)
    clock.sleep(6)
    take(limiter, "portal:1", 35)

    wait = limiter.acquire("portal:1")
    assert wait == pytest.approx(4.0)

    clock.sleep(wait)
    assert take(limiter, "portal:1", 40) == [0.0] * 40
    assert limiter.acquire("portal:1") > 0


def test_portals_have_budgets_of_their_own(clock):
    limiter = portal_limiter(clock, 0.75)
    take(limiter, "portal:1", 75)

    assert limiter.acquire("portal:2") == 0.0
    assert limiter.acquire("portal:1") > 0


def test_an_announced_limit_changes_the_budget_without_a_fresh_window(clock):
    limiter = portal_limiter(clock, 0.75)
    take(limiter, "portal:1", 75)

    limiter.observe("portal:1", 190, 10.0)

    waits = take(limiter, "portal:1", 68)
    assert waits[:67] == [0.0] * 67
    assert waits[67] > 0


def test_pause_holds_every_call_of_the_key(clock):
    limiter = portal_limiter(clock, 0.75)
    limiter.pause("portal:1", 10)

    assert limiter.acquire("portal:1") == pytest.approx(10.0)
    assert limiter.acquire("portal:2") == 0.0
    clock.sleep(10)
    assert limiter.acquire("portal:1") == 0.0


def test_search_has_its_own_smaller_budget(clock):
    limiter = search_limiter(clock, 0.75)

    waits = take(limiter, "portal:1", 4)

    assert waits[:3] == [0.0] * 3
    assert 0 < waits[3] <= 1.0


def test_any_moving_window_storage_of_limits_can_stand_in():
    limiter = WindowLimiter(MemoryStorage(), limit=4, share=0.5)

    assert take(limiter, "portal:1", 3)[:2] == [0.0, 0.0]
    assert limiter.acquire("portal:1") > 0


def test_a_storage_without_moving_windows_is_refused(clock):
    with pytest.raises(TypeError):
        WindowLimiter(object(), clock)


def test_the_clocked_storage_forgets_old_calls(clock):
    storage = ClockedMemoryStorage(clock)
    assert storage.acquire_entry("k", 2, 10)
    assert storage.acquire_entry("k", 2, 10)
    assert not storage.acquire_entry("k", 2, 10)

    clock.sleep(10.5)

    assert storage.get_moving_window("k", 2, 10) == (clock(), 0)
    assert storage.acquire_entry("k", 2, 10)


def test_the_runtime_reads_its_share_and_storage_from_the_settings():
    from carehub_hubspot.runtime import from_config

    rt = from_config(
        {"HUB_HUBSPOT_RATE_SHARE": "0.5", "HUB_RATE_LIMIT_STORAGE": "memory://"}
    )

    assert rt.limiter.budget("portal:1") == 50
    assert isinstance(rt.limiter.storage, MemoryStorage)
    assert rt.search_limiter.budget("portal:1") == 2


@pytest.mark.parametrize(
    "share", ("1.5", "none", "0"), ids=("above-one", "text", "zero")
)
def test_a_wrong_share_is_refused_with_the_fix(share):
    from carehub_hubspot.runtime import from_config
    from hub.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="HUB_HUBSPOT_RATE_SHARE"):
        from_config({"HUB_HUBSPOT_RATE_SHARE": share})
