"""The ClearCare sandbox answers as ClearCare does, over HTTP."""

from __future__ import annotations

import pytest
import requests

GATEWAY = "Invalid key=value pair (missing equal-sign) in Authorization header"


def token_for(sandbox_url: str, account: dict) -> dict:
    response = requests.post(
        f"{sandbox_url}/oauth/accesstoken",
        json={
            "grant_type": "client_credentials",
            "client_id": account["client_id"],
            "client_secret": account["client_secret"],
        },
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def api(sandbox_url, account):
    """Return a session that calls the sandbox as a well-behaved client would."""
    session = requests.Session()
    token = token_for(sandbox_url, account)["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"

    def call(method, path, **kwargs):
        return session.request(method, f"{sandbox_url}{path}", timeout=10, **kwargs)

    yield call
    session.close()


def patient(agency_id: str, **extra) -> dict:
    resource = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": "Johnson", "given": ["Margaret"]}],
        "telecom": [{"system": "phone", "value": "3035559876", "use": "mobile"}],
        "meta": {"tag": [{"code": "agencyId", "display": agency_id}]},
    }
    resource.update(extra)
    return resource


def test_token_answer_has_the_real_shape(sandbox_url, account):
    answer = token_for(sandbox_url, account)

    assert answer["token_type"] == "BearerToken"
    assert answer["expires_in"] == "3599"
    assert answer["refresh_token_expires_in"] == "0"
    assert answer["status"] == "approved"
    assert isinstance(answer["issued_at"], int)


def test_token_is_refused_for_a_wrong_secret(sandbox_url, account):
    response = requests.post(
        f"{sandbox_url}/oauth/accesstoken",
        data={
            "grant_type": "client_credentials",
            "client_id": account["client_id"],
            "client_secret": "wrong",
        },
        timeout=10,
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("scheme", "path"),
    (
        ("BearerToken", "/v1/patients/"),
        ("Basic", "/v1/patients/"),
        ("Bearer", "/v1/patients"),
        ("Bearer", "/v1/Patients/"),
        ("Bearer", "/v1/patient/"),
        ("Bearer", "/v1/locations/_search/"),
    ),
    ids=("BearerToken", "Basic", "no-slash", "wrong-case", "singular", "search-slash"),
)
def test_mistakes_get_the_gateway_403(sandbox_url, account, control, scheme, path):
    token = token_for(sandbox_url, account)["access_token"]
    method = "POST" if "_search" in path else "GET"

    response = requests.request(
        method,
        f"{sandbox_url}{path}",
        headers={"Authorization": f"{scheme} {token}"},
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 403
    assert response.json()["message"].startswith(GATEWAY)
    assert control.counters(account=account["account"])["refused"] == 1


def test_expired_token_gets_401(api, control):
    assert api("GET", "/v1/patients/").status_code == 200

    control.advance_clock(3601)

    assert api("GET", "/v1/patients/").status_code == 401


def test_create_answers_only_the_id_and_reads_back(api, account):
    created = api("POST", "/v1/patients/", json=patient(account["agency_id"]))

    assert created.status_code == 201
    assert set(created.json()) == {"resourceType", "id"}
    read = api("GET", f"/v1/patients/{created.json()['id']}/").json()
    tags = {t["code"]: t["display"] for t in read["meta"]["tag"]}
    assert read["name"][0]["family"] == "Johnson"
    assert tags["isClient"] == "False"
    assert tags["agencyId"] == account["agency_id"]


@pytest.mark.parametrize(
    ("change", "message"),
    (
        ({"meta": {"tag": []}}, "'agencyId' is required."),
        ({"name": [{"family": "Johnson"}]}, "'name[0].given[0]' is required."),
        (
            {"telecom": [{"system": "phone", "value": "13035559876"}]},
            "'telecom' phone '13035559876'",
        ),
    ),
    ids=("agency", "given-name", "phone"),
)
def test_create_refuses_what_clearcare_refuses(api, account, change, message):
    response = api(
        "POST", "/v1/patients/", json=patient(account["agency_id"], **change)
    )

    assert response.status_code == 422
    assert response.json()["message"].startswith(message)


def test_agency_required_fields_are_enforced(control, sandbox_url):
    strict = control.create_account("Strict Care", required_fields=["address[0].city"])
    session = requests.Session()
    token = token_for(sandbox_url, strict)["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"

    response = session.post(
        f"{sandbox_url}/v1/patients/", json=patient(strict["agency_id"]), timeout=10
    )

    assert response.status_code == 422
    assert response.json()["message"] == "'address[0].city' is required."
    session.close()


def test_partial_update_changes_only_what_is_sent(api, account):
    patient_id = api(
        "POST", "/v1/patients/", json=patient(account["agency_id"])
    ).json()["id"]

    response = api(
        "PUT",
        f"/v1/patients/{patient_id}/",
        json={
            "address": [{"city": "Denver"}],
            "meta": {
                "tag": [
                    {"code": "agencyId", "display": account["agency_id"]},
                    {"code": "isClient", "display": "true"},
                ]
            },
        },
    )

    assert response.status_code == 200
    read = api("GET", f"/v1/patients/{patient_id}/").json()
    assert read["address"][0]["city"] == "Denver"
    assert read["name"][0]["given"] == ["Margaret"]
    assert {"code": "isClient", "display": "True"} in read["meta"]["tag"]


def test_search_filters_and_pages(api, account):
    for family in ("Smith", "Smithers", "Jones"):
        api(
            "POST",
            "/v1/patients/",
            json=patient(
                account["agency_id"], name=[{"family": family, "given": ["A"]}]
            ),
        )

    found = api("GET", "/v1/patients/", params={"last_name:contains": "smi"}).json()
    first = api("GET", "/v1/patients/", params={"_count": 2, "_page": 0}).json()
    second = api("GET", "/v1/patients/", params={"_count": 2, "_page": 1}).json()
    future = api(
        "POST", "/v1/patients/_search/", json={"updated": "ge2999-01-01T00:00:00"}
    ).json()

    assert found["totalRecords"] == 2
    assert {e["resource"]["name"][0]["family"] for e in found["entry"]} == {
        "Smith",
        "Smithers",
    }
    assert len(first["entry"]) == 2 and len(second["entry"]) == 1
    assert future["totalRecords"] == 0
    assert api("GET", "/v1/patients/", params={"_count": 101}).status_code == 422


def test_patients_are_scoped_to_their_agency(api, account, control, sandbox_url):
    patient_id = api(
        "POST", "/v1/patients/", json=patient(account["agency_id"])
    ).json()["id"]
    other = control.create_account("Other Care")
    token = token_for(sandbox_url, other)["access_token"]

    response = requests.get(
        f"{sandbox_url}/v1/patients/{patient_id}/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )

    assert response.status_code == 404


def test_locations_answer_on_both_paths_with_bare_entries(api):
    listed = api("GET", "/v1/locations/").json()
    searched = api("POST", "/v1/locations/_search", json={}).json()

    assert [e["name"] for e in listed["entry"]] == ["Main Office", "North Branch"]
    assert searched["entry"] == listed["entry"]


def test_subscriptions_crud(api, account):
    body = {
        "resourceType": "Subscription",
        "status": "active",
        "criteria": "patient.created",
        "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/x"},
        "meta": {"tag": [{"code": "agencyId", "display": account["agency_id"]}]},
    }

    subscription_id = api("POST", "/v1/subscriptions/", json=body).json()["id"]
    changed = api(
        "PUT", f"/v1/subscriptions/{subscription_id}/", json={**body, "status": "off"}
    )
    read = api("GET", f"/v1/subscriptions/{subscription_id}/").json()
    deleted = api("DELETE", f"/v1/subscriptions/{subscription_id}/")

    assert changed.status_code == 200 and read["status"] == "off"
    assert deleted.status_code == 204
    assert api("GET", "/v1/subscriptions/").json()["entry"] == []


def test_faults_counters_and_reset(api, control, account):
    control.fault(count=1, status=500, path_prefix="/v1/patients/")

    failed = api("GET", "/v1/patients/")
    recovered = api("GET", "/v1/patients/")
    counters = control.counters(account=account["account"])

    assert failed.status_code == 500
    assert failed.headers["Content-Type"].startswith("text/html")
    assert recovered.status_code == 200
    assert counters["reads"] == 2
    assert counters["by_path"]["GET /v1/patients/"] == 2

    control.reset()
    assert control.counters()["reads"] == 0
    assert api("GET", "/v1/patients/").status_code == 401


def test_refuse_writes_gives_403_on_writes_only(api, control, account):
    control.verb("refuse_writes", {"client_id": account["client_id"]})

    write = api("POST", "/v1/patients/", json=patient(account["agency_id"]))

    assert write.status_code == 403
    assert api("GET", "/v1/patients/").status_code == 200
