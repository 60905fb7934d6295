"""The connectors' rate limits shared by every process through Redis."""

from __future__ import annotations

from limits.storage import storage_from_string

from carehub_clearcare.limiter import WindowLimiter as ClearCareLimiter
from carehub_clearcare.limiter import shared_limiter
from carehub_hubspot.ratelimit import WindowLimiter as HubSpotLimiter


def storage_url(redis_server) -> str:
    return redis_server.url.rsplit("/", 1)[0] + "/1"


def test_two_processes_share_one_clearcare_window(redis_server):
    url = storage_url(redis_server)
    # Two limiters on two storages stand for two processes.
    first = ClearCareLimiter(3, storage_from_string(url))
    second = ClearCareLimiter(3, storage_from_string(url))

    assert [first.acquire("agency-7") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert second.acquire("agency-7") > 0
    assert second.acquire("agency-8") == 0.0


def test_the_clearcare_limiter_takes_the_storage_setting(redis_server):
    url = storage_url(redis_server)
    limiter = shared_limiter(2, url)

    assert shared_limiter(2, url) is limiter
    assert shared_limiter(2) is not limiter
    assert limiter.acquire("agency-9") == limiter.acquire("agency-9") == 0.0
    assert ClearCareLimiter(2, storage_from_string(url)).acquire("agency-9") > 0


def test_two_processes_share_one_hubspot_portal_budget(redis_server):
    url = storage_url(redis_server)
    first = HubSpotLimiter(storage_from_string(url), limit=4, interval=10, share=0.5)
    second = HubSpotLimiter(storage_from_string(url), limit=4, interval=10, share=0.5)

    assert first.acquire("portal-1") == 0.0
    assert second.acquire("portal-1") == 0.0
    assert first.acquire("portal-1") > 0
    assert second.acquire("portal-2") == 0.0
