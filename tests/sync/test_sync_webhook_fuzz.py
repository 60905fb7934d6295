"""Random requests at every webhook path of the real connectors: never a 500, and
nothing stored from a request that was refused."""

from __future__ import annotations

import json

import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hub import create_app
from hub.extensions import db
from hub.models import Agency, Connection, Event
from hub.settings import save_settings
from hub.testing.server import serve, test_config

CLEARCARE_SECRET = "fuzz-webhook-secret-0123456789"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Bodies that look like what the vendors send, so some requests get far.
vendor_bodies = st.fixed_dictionaries(
    {},
    optional={
        "vid": st.one_of(st.integers(-5, 10**12), st.text(max_size=8)),
        "objectId": st.one_of(st.integers(0, 10**6), st.text(max_size=8)),
        "id": st.one_of(st.integers(0, 10**6), st.text(max_size=8), st.none()),
        "resourceType": st.sampled_from(["Patient", "Bundle", "", "patient"]),
        "portal-id": st.integers(0, 10**9),
        "properties": st.dictionaries(st.text(max_size=10), json_values, max_size=3),
    },
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    vendor_bodies.map(lambda v: json.dumps(v).encode()),
    st.lists(vendor_bodies, max_size=3).map(lambda v: json.dumps(v).encode()),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json",
        "application/json",
        "application/fhir+json",
        "application/fhir+json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/vnd.api+json",
        "",
        "\u00e9/\u00e9",
    ]
)
header_names = st.sampled_from(
    [
        "Authorization",
        "X-HubSpot-Signature",
        "X-HubSpot-Signature-v3",
        "X-HubSpot-Signature-Version",
        "X-HubSpot-Request-Timestamp",
        "X-Anything",
    ]
)
header_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60)
methods = st.sampled_from(["POST"] * 8 + ["GET", "PUT", "DELETE", "PATCH"])
queries = st.dictionaries(
    st.sampled_from(["objectId", "criteria", "x", "vid"]),
    st.text(st.characters(min_codepoint=48, max_codepoint=122), max_size=12),
    max_size=2,
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Serve the hub with both real connectors and one agency's webhook URLs."""
    tmp = tmp_path_factory.mktemp("fuzz")

    def make(url):
        return create_app(
            test_config(
                tmp,
                HUB_PUBLIC_URL=url,
                HUB_LOAD_ENTRY_POINTS=True,
                HUB_LOAD_PLUGINS=["hubspot", "clearcare"],
            )
        )

    with serve(make) as app:
        with app.app_context():
            db.create_all()
            facade = app.extensions["hub.connectors"]
            agency = Agency(slug="fuzz", name="Fuzz", settings={})
            hubspot = Connection(agency=agency, connector="hubspot", settings={})
            save_settings(
                hubspot, facade.info("hubspot"), {"access_token": "pat-na1-fuzz"}
            )
            clearcare = Connection(agency=agency, connector="clearcare", settings={})
            save_settings(
                clearcare,
                facade.info("clearcare"),
                {"client_id": "c", "client_secret": "s", "agency_id": "1669"},
            )
            clearcare.set_secret("webhook_secret", CLEARCARE_SECRET)
            db.session.add(agency)
            db.session.flush()
            paths = [
                connection.webhook_url(purpose)
                for connection in (hubspot, clearcare)
                for purpose in facade.info(connection.connector).webhook_purposes
            ]
            db.session.commit()
        app.config["FUZZ_PATHS"] = paths
        yield app
        with app.app_context():
            db.engine.dispose()


def count_events(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Event.id)))


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    index=st.integers(0, 10),
    method=methods,
    body=bodies,
    content_type=content_types,
    headers=st.dictionaries(header_names, header_values, max_size=3),
    authorised=st.booleans(),
    query=queries,
)
def test_random_requests_never_fail_and_refusals_store_nothing(
    hub, index, method, body, content_type, headers, authorised, query
):
    paths = hub.config["FUZZ_PATHS"]
    url = paths[index % len(paths)]
    headers = dict(headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if authorised and "/clearcare/" in url:
        headers["Authorization"] = f"Bearer {CLEARCARE_SECRET}"
    before = count_events(hub)

    answer = requests.request(
        method, url, data=body, headers=headers, params=query, timeout=10
    )

    event(f"status {answer.status_code}")
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 300:
        assert count_events(hub) == before
    else:
        assert answer.json()["stored"] == count_events(hub) - before
