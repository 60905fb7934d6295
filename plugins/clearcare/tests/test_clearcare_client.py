"""The ClearCare client against the sandbox, over HTTP: tokens, paths, lists,
retries and errors."""

from __future__ import annotations

import time

import pytest
import requests

from carehub_clearcare.api import (
    NAME,
    RATE_SETTING,
    ConnectAPI,
    client_for,
    endpoints,
)
from carehub_clearcare.client import entries
from carehub_clearcare.tokens import TokenCache
from hub.errors import (
    AuthenticationFailed,
    PermissionDenied,
    RemoteUnavailable,
    ValidationFailed,
)
from hub.ratelimit import Unlimited, WindowLimiter

TOKEN_ROUTE = "POST /oauth/accesstoken"


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(app_ctx, account, clock, sleeps):
    """Return a client for the sandbox account, on a fake clock and fake sleep."""
    root, token_url = endpoints()
    with ConnectAPI(
        root,
        token_url,
        account["client_id"],
        account["client_secret"],
        account["agency_id"],
        tokens=TokenCache(),
        clock=clock,
        sleep=sleeps.append,
    ) as client:
        yield client


def new_patient(agency_id: str, family: str = "Johnson") -> dict:
    return {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": ["Margaret"]}],
        "meta": {"tag": [{"code": "agencyId", "display": agency_id}]},
    }


def token_requests(control, account) -> int:
    return control.counters(account=account["account"])["by_path"].get(TOKEN_ROUTE, 0)


def test_endpoints_point_at_the_mounted_sandbox(app_ctx, sandbox_url):
    assert endpoints() == (sandbox_url, f"{sandbox_url}/oauth/accesstoken")


def test_token_is_fetched_once_and_reused(client, control, account):
    for _ in range(3):
        client.organizations()

    assert token_requests(control, account) == 1


def test_token_is_fetched_again_after_expiry(client, control, account, clock):
    client.organizations()

    clock.advance(3600)
    control.advance_clock(3600)
    client.organizations()

    assert token_requests(control, account) == 2


def test_token_is_fetched_again_once_after_a_401(client, control, account):
    client.organizations()

    control.advance_clock(3600)
    organizations = client.organizations()

    assert organizations[0]["id"] == account["agency_id"]
    assert token_requests(control, account) == 2


def test_wrong_secret_is_reported_plainly(app_ctx, account):
    root, token_url = endpoints()
    with (
        ConnectAPI(
            root, token_url, account["client_id"], "wrong", account["agency_id"]
        ) as client,
        pytest.raises(AuthenticationFailed) as failure,
    ):
        client.organizations()

    assert "refused the client id and secret" in failure.value.message
    assert "wrong" not in failure.value.message


def test_client_never_makes_the_gateway_mistakes(client, control, account):
    patient_id = client.create_patient(new_patient(account["agency_id"]))
    client.patient(patient_id)
    client.update_patient(
        patient_id,
        {
            "birthDate": "1945-03-15",
            "meta": {"tag": [{"code": "agencyId", "display": account["agency_id"]}]},
        },
    )
    list(client.search_patients(last_name="Johnson"))
    client.locations()
    client.organizations()
    subscription_id = client.create_subscription(
        {
            "resourceType": "Subscription",
            "status": "active",
            "criteria": "patient.created",
            "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/"},
            "meta": {"tag": [{"code": "agencyId", "display": account["agency_id"]}]},
        }
    )
    client.subscriptions()
    client.delete_subscription(subscription_id)

    counters = control.counters(account=account["account"])
    assert counters["refused"] == 0
    assert counters["writes"] == 4


def test_locations_fall_back_to_search(app_ctx, control, clock):
    account = control.create_account("Search Only", locations_get=False)
    root, token_url = endpoints()
    with ConnectAPI(
        root,
        token_url,
        account["client_id"],
        account["client_secret"],
        account["agency_id"],
        clock=clock,
    ) as client:
        locations = client.locations()

    by_path = control.counters(account=account["account"])["by_path"]
    assert [location["name"] for location in locations] == [
        "Main Office",
        "North Branch",
    ]
    assert by_path["POST /v1/locations/_search"] == 1


def test_bundle_entries_are_read_in_both_shapes():
    wrapped = {"entry": [{"resource": {"id": "1"}}, {"resource": {"id": "2"}}]}
    bare = {"entry": [{"id": "1"}, {"id": "2"}]}

    assert entries(wrapped) == entries(bare) == [{"id": "1"}, {"id": "2"}]
    assert entries(None) == []


def test_pages_are_followed_to_the_end(client, control, account):
    for n in range(5):
        client.create_patient(new_patient(account["agency_id"], family=f"Page{n}"))

    found = list(client.pages("GET", "/v1/patients/", operation="listing", page_size=2))

    assert [p["name"][0]["family"] for p in found] == [f"Page{n}" for n in range(5)]
    by_path = control.counters(account=account["account"])["by_path"]
    assert by_path["GET /v1/patients/"] == 3


def test_server_error_with_html_is_retried(client, control, sleeps):
    control.fault(count=2, status=500, path_prefix="/v1/organizations/")

    organizations = client.organizations()

    assert len(organizations) == 1
    assert sleeps == [0.5, 1.0]


def test_server_error_with_html_is_reported_after_the_last_try(client, control):
    control.fault(count=3, status=500, path_prefix="/v1/organizations/")

    with pytest.raises(RemoteUnavailable) as failure:
        client.organizations()

    assert failure.value.retryable
    assert failure.value.remote_status == 500
    assert "HTML error page" in failure.value.message
    assert "try again" in failure.value.message


def test_create_is_not_retried(client, control, account, sleeps):
    control.fault(count=1, status=503, path_prefix="/v1/patients/")

    with pytest.raises(RemoteUnavailable):
        client.create_patient(new_patient(account["agency_id"]))

    assert sleeps == []
    assert list(client.search_patients()) == []


def test_gateway_403_names_the_operation(client, control, account):
    control.verb("refuse_writes", {"client_id": account["client_id"]})

    with pytest.raises(PermissionDenied) as failure:
        client.create_patient(new_patient(account["agency_id"]))

    assert failure.value.message.startswith(
        "ClearCare refused the path or the permission for creating a patient"
    )


def test_422_message_is_passed_on(client):
    with pytest.raises(ValidationFailed) as failure:
        client.create_patient({"name": [{"family": "X", "given": ["Y"]}]})

    assert "'agencyId' is required." in failure.value.message


def test_timeout_is_reported_as_retryable(client, control):
    client.timeout = 0.2
    client.attempts = 1
    control.fault(count=1, latency_ms=600, path_prefix="/v1/organizations/")

    with pytest.raises(RemoteUnavailable) as failure:
        client.organizations()

    assert failure.value.retryable
    assert "did not answer in time" in failure.value.message


def test_clients_of_a_process_share_one_limiter_of_10_calls_a_second(
    app_ctx, connection, monkeypatch
):
    monkeypatch.delitem(app_ctx.config, RATE_SETTING, raising=False)

    with client_for(connection) as first, client_for(connection) as second:
        assert first.limiter is second.limiter
        assert first.limiter.budget(first.limit_key) == 10
        assert first.limiter.interval(first.limit_key) == 1.0


def test_the_rate_setting_sets_the_calls_a_second(app_ctx, connection, monkeypatch):
    monkeypatch.setitem(app_ctx.config, RATE_SETTING, "4")

    with client_for(connection) as client:
        assert client.limiter.budget(client.limit_key) == 4


class PauseRecorder(Unlimited):
    """A limiter that lets every call go and records the pauses it is asked for."""

    def __init__(self) -> None:
        self.pauses: list[tuple[str, float]] = []

    def pause(self, key: str, seconds: float) -> None:
        self.pauses.append((key, seconds))


def test_a_429_pauses_the_agencys_key_for_its_retry_after(client, monkeypatch):
    client.limiter = PauseRecorder()
    refused = requests.Response()
    refused.status_code = 429
    refused.headers["Retry-After"] = "7"
    refused._content = b'{"message": "Too many requests"}'
    answers = [refused]
    send = client.session.request
    monkeypatch.setattr(
        client.session,
        "request",
        lambda *args, **kwargs: answers.pop() if answers else send(*args, **kwargs),
    )

    client.organizations()

    assert client.limiter.pauses == [(client.limit_key, 7.0)]


def test_client_waits_its_turn(app_ctx, account, clock):
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    root, token_url = endpoints()
    with ConnectAPI(
        root,
        token_url,
        account["client_id"],
        account["client_secret"],
        account["agency_id"],
        limiter=WindowLimiter(NAME, limit=2),
        clock=clock,
        sleep=sleep,
    ) as client:
        client.organizations()
        client.organizations()

    assert waits
    assert 0 < sum(waits) <= 1.1


def test_a_second_401_is_reported_after_one_new_token(client, control, account):
    control.fault(count=2, status=401, path_prefix="/v1/organizations/")

    with pytest.raises(AuthenticationFailed) as failure:
        client.organizations()

    assert "reading the organization" in failure.value.message
    assert token_requests(control, account) == 2
