"""The connectors' rate limits shared by every process through Redis."""

from __future__ import annotations

from limits.storage import storage_from_string

from carehub_hubspot.ratelimit import portal_limiter
from carehub_hubspot.runtime import from_config
from hub.ratelimit import WindowLimiter, shared_limiter


def storage_url(redis_server) -> str:
    return redis_server.url.rsplit("/", 1)[0] + "/1"


def test_two_processes_share_one_window(redis_server):
    url = storage_url(redis_server)
    # Two limiters on two storages stand for two processes.
    first = WindowLimiter("clearcare", limit=3, storage=storage_from_string(url))
    second = WindowLimiter("clearcare", limit=3, storage=storage_from_string(url))

    assert [first.acquire("agency-7") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert 0 < second.acquire("agency-7") <= 1.0
    assert second.acquire("agency-8") == 0.0


def test_the_shared_limiter_takes_the_storage_setting(redis_server):
    url = storage_url(redis_server)
    limiter = shared_limiter("clearcare", limit=2, storage_uri=url)

    assert shared_limiter("clearcare", limit=2, storage_uri=url) is limiter
    assert shared_limiter("clearcare", limit=2) is not limiter
    assert limiter.acquire("agency-9") == limiter.acquire("agency-9") == 0.0
    other = WindowLimiter("clearcare", limit=2, storage=storage_from_string(url))
    assert other.acquire("agency-9") > 0


def test_two_processes_share_one_hubspot_portal_budget(redis_server):
    url = storage_url(redis_server)
    first = WindowLimiter(
        "hubspot", limit=4, interval=10, share=0.5, storage=storage_from_string(url)
    )
    second = WindowLimiter(
        "hubspot", limit=4, interval=10, share=0.5, storage=storage_from_string(url)
    )

    assert first.acquire("portal-1") == 0.0
    assert second.acquire("portal-1") == 0.0
    assert first.acquire("portal-1") > 0
    assert second.acquire("portal-2") == 0.0


def test_the_hubspot_runtime_counts_in_the_storage_setting(redis_server):
    url = storage_url(redis_server)
    rt = from_config({"HUB_HUBSPOT_RATE_SHARE": "0.02", "HUB_RATE_LIMIT_STORAGE": url})
    elsewhere = WindowLimiter(
        "hubspot", limit=100, interval=10, share=0.02, storage=storage_from_string(url)
    )

    assert rt.limiter is portal_limiter(0.02, storage_uri=url)
    assert rt.limiter.acquire("portal-3") == rt.limiter.acquire("portal-3") == 0.0
    assert elsewhere.acquire("portal-3") > 0
