"""Tokens, scopes, account details, error bodies and the rate limits of each tier."""

from __future__ import annotations

import logging
import threading

import pytest
import requests

from carehub_hubspot.sandbox import store
from hub import sandbox as hub_sandbox

RATE_HEADERS = (
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
)


@pytest.mark.parametrize(
    "headers",
    ({}, {"Authorization": "Bearer pat-na1-wrong"}, {"Authorization": "Basic abc"}),
    ids=("none", "unknown token", "not bearer"),
)
def test_a_bad_token_answers_401_with_hubspots_body(sandbox, headers):
    sandbox.portal()

    response = requests.get(
        f"{sandbox.url}/crm/v3/objects/contacts", headers=headers, timeout=10
    )

    body = response.json()
    assert response.status_code == 401
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"]
    assert "Authentication credentials not found" in body["message"]


def test_account_details_name_the_portal(portal):
    response = portal.get("/account-info/v3/details")

    body = response.json()
    assert response.status_code == 200
    assert body["portalId"] == portal.account["portal_id"]
    assert body["timeZone"] == "US/Eastern"
    assert body["uiDomain"] == "app.hubspot.com"


def test_a_missing_scope_answers_403(sandbox):
    portal = sandbox.portal(scopes=["crm.objects.contacts.read"])

    read = portal.get("/crm/v3/objects/contacts")
    write = portal.post("/crm/v3/objects/contacts", json={"properties": {}})
    schema = portal.get("/crm/v3/properties/contacts")

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json()["category"] == "MISSING_SCOPES"
    assert write.json()["errors"][0]["context"]["requiredGranularScopes"] == [
        "crm.objects.contacts.write"
    ]
    assert schema.status_code == 403


@pytest.mark.parametrize(
    ("tier", "limit", "daily"),
    (
        ("free", 100, 250_000),
        ("starter", 100, 250_000),
        ("professional", 190, 625_000),
        ("enterprise", 190, 1_000_000),
    ),
)
def test_each_answer_carries_the_tiers_rate_headers(sandbox, tier, limit, daily):
    portal = sandbox.portal(tier)

    first = portal.get("/crm/v3/objects/contacts")
    second = portal.get("/crm/v3/objects/contacts")

    assert all(name in first.headers for name in RATE_HEADERS)
    assert first.headers["X-HubSpot-RateLimit-Max"] == str(limit)
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first.headers["X-HubSpot-RateLimit-Daily"] == str(daily)
    assert int(second.headers["X-HubSpot-RateLimit-Remaining"]) == limit - 2
    assert int(second.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == daily - 2


def test_the_ten_second_limit_answers_429_until_the_window_passes(sandbox):
    portal = sandbox.portal("free")
    answers = [portal.get("/crm/v3/objects/contacts").status_code for _ in range(100)]

    limited = portal.get("/crm/v3/objects/contacts")

    assert set(answers) == {200}
    assert limited.status_code == 429
    assert limited.json()["errorType"] == "RATE_LIMIT"
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.json()["message"] == (
        "You have reached your ten_secondly_rolling limit."
    )
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    sandbox.control.advance_clock(10.5)
    assert portal.get("/crm/v3/objects/contacts").status_code == 200


def test_each_portal_has_its_own_window(sandbox):
    busy = sandbox.portal("free")
    calm = sandbox.portal("free")
    for _ in range(100):
        busy.get("/account-info/v3/details")

    assert busy.get("/account-info/v3/details").status_code == 429
    assert calm.get("/account-info/v3/details").status_code == 200


def test_search_has_its_own_limit_and_no_rate_headers(portal, sandbox):
    answers = [
        portal.post("/crm/v3/objects/contacts/search", json={}) for _ in range(6)
    ]

    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert answers[5].status_code == 429
    assert answers[5].json()["policyName"] == "SECONDLY"
    assert "X-HubSpot-RateLimit-Max" not in answers[0].headers
    assert portal.get("/crm/v3/objects/contacts").status_code == 200
    sandbox.control.advance_clock(1.5)
    assert portal.post("/crm/v3/objects/contacts/search", json={}).status_code == 200


def test_every_error_has_hubspots_shape(portal):
    answers = [
        portal.get("/crm/v3/objects/contacts/123456"),
        portal.post("/crm/v3/objects/contacts", data="{not json"),
        portal.get("/crm/v3/no/such/thing"),
    ]

    for answer in answers:
        body = answer.json()
        assert answer.status_code >= 400
        assert {"status", "message", "correlationId", "category"} <= set(body)
        assert body["status"] == "error"


def test_an_oauth_token_expires_and_tells_what_it_is(sandbox):
    portal = sandbox.portal("professional", token_kind="oauth")
    info_url = f"{sandbox.url}/oauth/v1/access-tokens/{portal.token}"

    info = requests.get(info_url, timeout=10)
    assert portal.account["token_kind"] == "oauth"
    assert not portal.token.startswith("pat-")
    assert info.status_code == 200
    assert info.json()["hub_id"] == portal.account["portal_id"]
    assert 0 < info.json()["expires_in"] <= 1800
    assert portal.get("/account-info/v3/details").status_code == 200

    sandbox.control.advance_clock(1801)
    expired = portal.get("/account-info/v3/details")

    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert requests.get(info_url, timeout=10).status_code == 401


def test_a_private_app_token_is_not_an_oauth_token(portal):
    response = requests.get(
        f"{portal.base_url}/oauth/v1/access-tokens/{portal.token}", timeout=10
    )

    assert response.status_code == 404


def test_the_daily_limit_answers_429_with_the_daily_policy(sandbox):
    portal = sandbox.portal("free")
    portal.get("/account-info/v3/details")
    engine = hub_sandbox.engine(sandbox.app)
    with engine.begin() as conn:
        conn.execute(
            store.daily.update()
            .where(store.daily.c.portal_id == portal.account["portal_id"])
            .values(count=249_999)
        )

    last = portal.get("/account-info/v3/details")
    over = portal.get("/account-info/v3/details")

    assert last.status_code == 200
    assert last.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert over.status_code == 429
    assert over.json()["policyName"] == "DAILY"


def test_concurrent_writers_get_distinct_ids(portal):
    ids: list[str] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        for i in range(8):
            answer = portal.post(
                "/crm/v3/objects/contacts",
                json={"properties": {"firstname": f"T{n}-{i}"}},
            )
            with lock:
                ids.append(answer.json()["id"])

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(ids) == 48
    assert len(set(ids)) == 48


def test_the_access_log_hides_the_token_of_a_token_info_call(sandbox, caplog):
    portal = sandbox.portal("professional", token_kind="oauth")

    with caplog.at_level(logging.INFO, logger="werkzeug"):
        requests.get(f"{sandbox.url}/oauth/v1/access-tokens/{portal.token}", timeout=10)

    assert "/oauth/v1/access-tokens/" in caplog.text
    assert portal.token not in caplog.text
