"""hub.ratelimit: a share of each key's budget per moving window, on a fake clock."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import limits.storage.memory
import pytest
from limits.storage import MemoryStorage

from hub.errors import ConfigurationError
from hub.ratelimit import (
    ClockedMemoryStorage,
    Unlimited,
    WindowLimiter,
    shared_limiter,
    window_storage,
)


class FakeClock:
    """A clock that moves only when a test sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    """Return a fake clock starting at a fixed moment."""
    return FakeClock()


@pytest.fixture(params=("limits-memory", "clocked-memory"))
def storage(request, clock, monkeypatch):
    """Return an in-process storage on the fake clock.

    ``limits``' own memory storage reads ``time.time`` of its module, which is set to
    the fake clock for the test; the hub's stand-in takes the clock.
    """
    if request.param == "clocked-memory":
        return ClockedMemoryStorage(clock)
    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=clock))

    return MemoryStorage()


@pytest.fixture
def make_limiter(storage, clock):
    """Return a factory of limiters on the storage and the fake clock."""

    def make(**figures) -> WindowLimiter:
        figures.setdefault("limit", 100)
        figures.setdefault("interval", 10.0)
        return WindowLimiter("test", storage=storage, clock=clock, **figures)

    return make


def take(limiter: WindowLimiter, key: str, count: int) -> list[float]:
    return [limiter.acquire(key) for _ in range(count)]


class TestWindows:
    def test_a_key_keeps_to_its_share_of_the_budget(self, make_limiter):
        limiter = make_limiter(share=0.75)

        waits = take(limiter, "portal:1", 76)

        assert waits[:75] == [0.0] * 75
        assert waits[75] == pytest.approx(10.0)

    def test_the_window_moves_with_the_clock(self, make_limiter, clock):
        limiter = make_limiter(share=0.75)
        take(limiter, "portal:1", 40)
        clock.sleep(6)
        take(limiter, "portal:1", 35)

        assert limiter.acquire("portal:1") == pytest.approx(4.0)

        clock.sleep(5)
        assert take(limiter, "portal:1", 40) == [0.0] * 40
        assert limiter.acquire("portal:1") > 0

    def test_keys_have_budgets_of_their_own(self, make_limiter):
        limiter = make_limiter(limit=3, interval=1.0)
        take(limiter, "agency-a", 3)

        assert limiter.acquire("agency-b") == 0.0
        assert 0 < limiter.acquire("agency-a") <= 1.0

    def test_a_small_share_still_allows_one_call(self, make_limiter):
        limiter = make_limiter(limit=1, share=0.5)

        assert limiter.budget("portal:1") == 1
        assert take(limiter, "portal:1", 2)[0] == 0.0

    def test_limiters_sharing_a_storage_keep_their_namespaces_apart(
        self, storage, clock
    ):
        hubspot = WindowLimiter("one", limit=1, storage=storage, clock=clock)
        clearcare = WindowLimiter("two", limit=1, storage=storage, clock=clock)

        assert hubspot.acquire("key") == 0.0
        assert clearcare.acquire("key") == 0.0
        assert hubspot.acquire("key") > 0

    def test_many_threads_take_no_more_than_the_budget(self, make_limiter):
        limiter = make_limiter(limit=50)
        waits: list[float] = []
        lock = threading.Lock()

        def run() -> None:
            mine = take(limiter, "portal:1", 20)
            with lock:
                waits.extend(mine)

        threads = [threading.Thread(target=run) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert waits.count(0.0) == 50


class TestObserve:
    def test_an_announced_limit_changes_the_budget_without_a_fresh_window(
        self, make_limiter
    ):
        limiter = make_limiter(share=0.75)
        take(limiter, "portal:1", 75)

        limiter.observe("portal:1", 190, 10.0)

        waits = take(limiter, "portal:1", 68)
        assert waits[:67] == [0.0] * 67
        assert waits[67] > 0
        assert limiter.budget("portal:2") == 75

    def test_an_announced_interval_sets_the_window(self, make_limiter, clock):
        limiter = make_limiter(limit=2)
        limiter.observe("portal:1", 2, 1.0)
        take(limiter, "portal:1", 2)

        assert limiter.interval("portal:1") == 1.0
        assert limiter.acquire("portal:1") == pytest.approx(1.0)

    @pytest.mark.parametrize(("limit", "interval"), ((0, 10.0), (190, 0.0), (-1, -1.0)))
    def test_figures_that_make_no_sense_are_ignored(
        self, make_limiter, limit, interval
    ):
        limiter = make_limiter(share=0.75)

        limiter.observe("portal:1", limit, interval)

        assert limiter.budget("portal:1") == 75
        assert limiter.interval("portal:1") == 10.0


class TestPause:
    def test_a_pause_holds_every_call_of_the_key(self, make_limiter, clock):
        limiter = make_limiter()
        limiter.pause("portal:1", 10)

        assert limiter.acquire("portal:1") == pytest.approx(10.0)
        assert limiter.acquire("portal:2") == 0.0
        clock.sleep(10)
        assert limiter.acquire("portal:1") == 0.0

    def test_a_shorter_pause_does_not_cut_a_longer_one(self, make_limiter, clock):
        limiter = make_limiter()
        limiter.pause("agency-a", 30)

        limiter.pause("agency-a", 5)

        assert limiter.acquire("agency-a") == pytest.approx(30.0)

    def test_a_paused_call_takes_nothing_from_the_budget(self, make_limiter, clock):
        limiter = make_limiter(limit=1)
        limiter.pause("agency-a", 5)
        take(limiter, "agency-a", 3)

        clock.sleep(5)

        assert limiter.acquire("agency-a") == 0.0


class TestStorages:
    def test_the_wall_clock_and_limits_memory_storage_hold_a_key_to_its_rate(self):
        limiter = WindowLimiter("test", limit=3, storage=MemoryStorage())

        waits = take(limiter, "agency-a", 4)

        assert waits[:3] == [0.0, 0.0, 0.0]
        assert 0 < waits[3] <= 1.0
        assert limiter.acquire("agency-b") == 0.0

    def test_the_default_storage_is_in_memory_on_the_limiters_clock(self, clock):
        limiter = WindowLimiter("test", limit=1, clock=clock)

        assert isinstance(limiter.storage, ClockedMemoryStorage)
        assert limiter.storage.clock is clock

    def test_a_storage_without_moving_windows_is_refused(self, clock):
        with pytest.raises(TypeError, match="moving windows"):
            WindowLimiter("test", limit=1, storage=object(), clock=clock)

    @pytest.mark.parametrize("share", (0, 1.5), ids=("zero", "above-one"))
    def test_a_share_outside_zero_to_one_is_refused(self, share):
        with pytest.raises(ValueError, match="share"):
            WindowLimiter("test", limit=1, share=share)

    def test_the_clocked_storage_forgets_calls_older_than_the_window(self, clock):
        storage = ClockedMemoryStorage(clock)
        assert storage.acquire_entry("k", 2, 10)
        assert storage.acquire_entry("k", 2, 10)
        assert not storage.acquire_entry("k", 2, 10)
        assert storage.get_moving_window("k", 2, 10) == (clock(), 2)

        clock.sleep(10.5)

        assert storage.get_moving_window("k", 2, 10) == (clock(), 0)
        assert storage.acquire_entry("k", 2, 10)

    def test_the_clocked_storage_keeps_no_counters(self, clock):
        storage = ClockedMemoryStorage(clock)
        storage.acquire_entry("k", 2, 10)

        with pytest.raises(NotImplementedError):
            storage.incr("k", 10)
        assert storage.reset() == 1
        assert storage.get_moving_window("k", 2, 10) == (clock(), 0)


class TestShared:
    def test_one_limiter_per_process_for_the_same_figures(self):
        limiter = shared_limiter("shared-a", limit=10)

        assert shared_limiter("shared-a", limit=10) is limiter
        assert shared_limiter("shared-a", limit=10, storage_uri="") is limiter
        assert shared_limiter("shared-a", limit=5) is not limiter
        assert shared_limiter("shared-b", limit=10) is not limiter
        assert shared_limiter("shared-a", limit=10, share=0.5) is not limiter

    def test_a_storage_uri_builds_that_storage(self):
        limiter = shared_limiter("shared-c", limit=10, storage_uri="memory://")

        assert isinstance(limiter.storage, MemoryStorage)
        assert shared_limiter("shared-c", limit=10) is not limiter

    @pytest.mark.parametrize(
        ("uri", "problem"),
        (
            ("nosuch://user:hunter2@127.0.0.1", "does not know"),
            ("async+memory://", "keeps no moving windows"),
        ),
        ids=("unknown", "async"),
    )
    def test_an_unusable_storage_is_refused_without_its_uri(self, uri, problem):
        with pytest.raises(ConfigurationError) as refused:
            window_storage(uri)

        assert problem in refused.value.message
        assert "HUB_RATE_LIMIT_STORAGE" in refused.value.message
        assert "hunter2" not in refused.value.message


def test_unlimited_never_holds_a_call_back():
    limiter = Unlimited()
    limiter.pause("agency-a", 30)
    limiter.observe("agency-a", 1, 1.0)

    assert [limiter.acquire("agency-a") for _ in range(5)] == [0.0] * 5
