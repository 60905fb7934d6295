"""The HubSpot client against a scripted HubSpot: errors, retries, pages, limits."""

from __future__ import annotations

import time

import pytest

from carehub_hubspot import paths
from carehub_hubspot.client import AnswerLost
from carehub_hubspot.errors import Conflict, ObjectNotFound
from hub.errors import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    RemoteError,
    RemoteUnavailable,
    ValidationFailed,
)

CONTACTS = paths.path("objects", object_type="contacts")


def error(status, message, category=None, **extra):
    body = {"status": "error", "message": message, "correlationId": "corr-123"}
    if category:
        body["category"] = category
    body.update(extra)
    return (status, body, {})


@pytest.mark.parametrize(
    ("status", "category", "expected"),
    (
        (401, "INVALID_AUTHENTICATION", AuthenticationFailed),
        (403, "MISSING_SCOPES", PermissionDenied),
        (404, "OBJECT_NOT_FOUND", ObjectNotFound),
        (409, "CONFLICT", Conflict),
        (400, "VALIDATION_ERROR", ValidationFailed),
        (400, "INVALID_PARAMS", RemoteError),
    ),
    ids=("401", "403", "404", "409", "400-validation", "400-other"),
)
def test_errors_become_hub_errors_with_message_and_correlation_id(
    scripted, make_client, status, category, expected
):
    scripted.script(CONTACTS, error(status, "HubSpot says no.", category))
    client = make_client(scripted.url, token="pat-na1-secret-canary")

    with pytest.raises(expected) as caught:
        client.get(CONTACTS, what="listing contacts")

    message = caught.value.message
    assert type(caught.value) is expected
    assert "HubSpot says no" in message
    assert "corr-123" in message
    assert "pat-na1-secret-canary" not in message
    assert caught.value.remote_status == status
    assert scripted.calls(CONTACTS) == 1


def test_sends_the_token_as_bearer(scripted, make_client):
    make_client(scripted.url, token="pat-na1-abc").get(CONTACTS, what="listing")

    assert scripted.headers[0]["Authorization"] == "Bearer pat-na1-abc"


def test_429_waits_out_the_window_and_retries(scripted, make_client, clock):
    limited = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    scripted.script(
        CONTACTS, (429, limited, {}), (429, limited, {}), (200, {"ok": 1}, {})
    )
    client = make_client(scripted.url)

    assert client.get(CONTACTS, what="listing") == {"ok": 1}
    assert scripted.calls(CONTACTS) == 3
    assert sum(clock.slept) >= 20


def test_429_honours_retry_after(scripted, make_client, clock):
    scripted.script(
        CONTACTS,
        (429, {"message": "slow down"}, {"Retry-After": "3"}),
        (200, {"ok": 1}, {}),
    )

    make_client(scripted.url).get(CONTACTS, what="listing")

    assert clock.slept == [3.0]


def test_a_search_429_waits_a_second(scripted, make_client, clock):
    search = paths.path("objects_search", object_type="contacts")
    scripted.script(
        search,
        (429, {"message": "secondly", "policyName": "SECONDLY"}, {}),
        (200, {"results": []}, {}),
    )

    make_client(scripted.url).search("contacts", {}, what="searching")

    assert clock.slept == [1.0]


def test_daily_limit_is_not_retried(scripted, make_client):
    scripted.script(CONTACTS, (429, {"message": "daily", "policyName": "DAILY"}, {}))

    with pytest.raises(RateLimited) as caught:
        make_client(scripted.url).get(CONTACTS, what="listing")

    assert "midnight" in caught.value.message
    assert scripted.calls(CONTACTS) == 1


def test_423_and_server_errors_are_retried_for_safe_calls(scripted, make_client, clock):
    scripted.script(
        CONTACTS,
        error(423, "locked"),
        error(502, "bad gateway"),
        error(503, "unavailable"),
        (200, {"ok": 1}, {}),
    )

    assert make_client(scripted.url).get(CONTACTS, what="listing") == {"ok": 1}
    assert scripted.calls(CONTACTS) == 4
    assert clock.slept[0] >= 2.0


def test_gives_up_after_the_last_try(scripted, make_client):
    scripted.script(CONTACTS, *[error(503, "down")] * 3)

    with pytest.raises(RemoteUnavailable):
        make_client(scripted.url, max_attempts=3).get(CONTACTS, what="listing")
    assert scripted.calls(CONTACTS) == 3


def test_a_post_whose_answer_is_lost_is_not_sent_again(scripted, make_client):
    scripted.script(CONTACTS, error(504, "gateway timeout"))

    with pytest.raises(AnswerLost):
        make_client(scripted.url).request(
            "POST", CONTACTS, json={"properties": {}}, what="creating a contact"
        )
    assert scripted.calls(CONTACTS) == 1


def test_create_looks_for_the_lost_object_before_sending_again(scripted, make_client):
    scripted.script(CONTACTS, error(504, "gateway timeout"), (201, {"id": "9"}, {}))
    looked = []

    def find():
        looked.append(1)
        return {"id": "7"} if len(looked) > 1 else None

    created = make_client(scripted.url).create(
        CONTACTS, {"properties": {}}, what="creating a contact", find=find
    )

    assert created == {"id": "9"}
    assert looked == [1]
    assert scripted.calls(CONTACTS) == 2


def test_create_returns_what_it_found_after_a_lost_answer(scripted, make_client):
    scripted.script(CONTACTS, error(502, "bad gateway"))

    created = make_client(scripted.url).create(
        CONTACTS, {}, what="creating a contact", find=lambda: {"id": "7"}
    )

    assert created == {"id": "7"}
    assert scripted.calls(CONTACTS) == 1


def test_a_read_timeout_on_a_post_is_an_answer_lost(scripted, make_client):
    slow = paths.path("objects", object_type="deals")

    def sleepy():
        time.sleep(0.6)
        return {"id": "1"}

    scripted.script(slow, (201, sleepy, {}))
    client = make_client(scripted.url, timeout=(2.0, 0.2))

    with pytest.raises(AnswerLost):
        client.request("POST", slow, json={}, what="creating a deal")
    time.sleep(0.5)
    assert scripted.calls(slow) == 1


def test_an_unreachable_hubspot_says_so(make_client):
    client = make_client("http://127.0.0.1:9", max_attempts=2)

    with pytest.raises(RemoteUnavailable) as caught:
        client.get(CONTACTS, what="listing contacts")

    assert "could not reach HubSpot" in caught.value.message


def test_the_portal_limit_header_sets_the_budget(scripted, make_client):
    scripted.script(
        CONTACTS,
        (
            200,
            {},
            {
                "X-HubSpot-RateLimit-Max": "190",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            },
        ),
    )
    client = make_client(scripted.url)
    assert client.rt.limiter.budget("portal:1") == 75

    client.get(CONTACTS, what="listing")

    assert client.rt.limiter.budget("portal:1") == 142


def test_pages_follow_paging_next_after(scripted, make_client):
    scripted.script(
        CONTACTS,
        (200, {"results": [{"id": "1"}], "paging": {"next": {"after": "1"}}}, {}),
        (200, {"results": [{"id": "2"}]}, {}),
    )

    found = list(make_client(scripted.url).pages(CONTACTS, what="listing", limit=1))

    assert [r["id"] for r in found] == ["1", "2"]
    assert scripted.calls(CONTACTS) == 2


def test_batch_sends_at_most_100_inputs_per_call(scripted, make_client):
    batch = paths.path("objects_batch", object_type="contacts", action="upsert")
    scripted.script(batch, *[(200, {"results": [{"id": "x"}]}, {})] * 3)

    results = make_client(scripted.url).batch(
        "contacts", "upsert", [{"id": str(i)} for i in range(250)], what="upserting"
    )

    sizes = [len(body["inputs"]) for _, p, body in scripted.requests if p == batch]
    assert sizes == [100, 100, 50]
    assert len(results) == 3


def test_a_batch_read_leaves_out_missing_ids_and_raises_other_errors(
    scripted, make_client
):
    read = paths.path("objects_batch", object_type="contacts", action="read")
    missing = {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": "Could not get some CONTACT objects, they may be deleted or not "
        "exist. Check that ids are valid.",
        "context": {"ids": ["2"]},
    }
    refused = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "Property values were not valid",
        "context": {},
    }
    scripted.script(
        read,
        (
            207,
            {"status": "COMPLETE", "results": [{"id": "1"}], "errors": [missing]},
            {},
        ),
        (207, {"status": "COMPLETE", "results": [], "errors": [missing, refused]}, {}),
    )
    client = make_client(scripted.url)

    found = client.batch("contacts", "read", [{"id": "1"}, {"id": "2"}], what="reading")
    with pytest.raises(ValidationFailed):
        client.batch("contacts", "read", [{"id": "2"}, {"id": "x"}], what="reading")

    assert found == [{"id": "1"}]


def test_search_all_walks_past_the_cap_by_object_id(scripted, make_client):
    search = paths.path("objects_search", object_type="contacts")
    first = [{"id": str(i)} for i in range(1, 201)]
    scripted.script(
        search, (200, {"results": first}, {}), (200, {"results": [{"id": "201"}]}, {})
    )

    found = list(
        make_client(scripted.url).search_all("contacts", [], ["email"], what="walking")
    )

    assert len(found) == 201
    second = [body for _, p, body in scripted.requests if p == search][1]
    assert second["filterGroups"][0]["filters"] == [
        {"propertyName": "hs_object_id", "operator": "GT", "value": "200"}
    ]
    assert "after" not in second


def test_connect_explains_a_token_without_scopes(scripted, make_client):
    from carehub_hubspot.connect import connect

    scripted.script(
        paths.path("account_details"), error(403, "Missing scopes", "MISSING_SCOPES")
    )

    with pytest.raises(PermissionDenied) as caught:
        connect(make_client(scripted.url), None, "pat-na1-x")

    assert "crm.schemas.deals" in caught.value.message
    assert "Missing scopes" in caught.value.message


def test_connect_explains_an_unreachable_hubspot(make_client):
    from carehub_hubspot.connect import connect

    with pytest.raises(RemoteUnavailable) as caught:
        connect(make_client("http://127.0.0.1:9", max_attempts=2), None, "pat-na1-x")

    assert "could not reach HubSpot" in caught.value.message
    assert "HUB_HUBSPOT_BASE_URL" in caught.value.message


def test_an_answer_that_is_not_json_names_the_base_url(make_client):
    from flask import Flask

    from hub.testing.server import serve

    def make(url):
        app = Flask("not-hubspot")
        app.add_url_rule("/<path:anything>", view_func=lambda anything: "<html>")
        return app

    with serve(make) as app:
        client = make_client(app.config["HUB_SERVED_URL"])
        with pytest.raises(RemoteError) as caught:
            client.get(CONTACTS, what="listing contacts")

    assert "HUB_HUBSPOT_BASE_URL" in caught.value.message


@pytest.mark.parametrize(
    ("base_url", "real"),
    (
        ("https://api.hubapi.com", True),
        ("https://api-eu1.hubapi.com/", True),
        ("http://127.0.0.1:5000/_sandbox/hubspot", False),
        ("https://hubapi.com.example.org", False),
    ),
    ids=("api", "eu1", "sandbox", "lookalike"),
)
def test_knows_hubspot_from_a_sandbox(make_client, base_url, real):
    from carehub_hubspot.access import is_real_hubspot

    assert is_real_hubspot(make_client(base_url)) is real
