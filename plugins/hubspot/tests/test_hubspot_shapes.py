"""Every body the connector sends fits HubSpot's official SDK models exactly.

The SDK's models are generated from HubSpot's published OpenAPI descriptions, so a
body that survives a round trip through them (nothing unknown dropped, nothing
required missing) is one the real HubSpot takes, not only the sandbox.
"""

from __future__ import annotations

import json
import re

import pytest

from carehub_hubspot import paths
from hub.canonical import Change, ChangeKind, Prospect, ProspectStatus, RecordRef

hubspot = pytest.importorskip("hubspot")

from hubspot.crm.associations.v4 import ApiClient as AssociationsClient  # noqa: E402
from hubspot.crm.contacts import ApiClient as ObjectsClient  # noqa: E402
from hubspot.crm.pipelines import ApiClient as PipelinesClient  # noqa: E402
from hubspot.crm.properties import ApiClient as PropertiesClient  # noqa: E402

#: (method, path pattern below the sandbox, SDK client, SDK model) for each write.
MODELS = (
    ("POST", r"/crm/pipelines/[^/]+/deals", PipelinesClient, "PipelineInput"),
    ("PATCH", r"/crm/pipelines/[^/]+/deals/\d+", PipelinesClient, "PipelinePatchInput"),
    (
        "POST",
        r"/crm/pipelines/[^/]+/deals/\d+/stages",
        PipelinesClient,
        "PipelineStageInput",
    ),
    (
        "PATCH",
        r"/crm/pipelines/[^/]+/deals/\d+/stages/\d+",
        PipelinesClient,
        "PipelineStagePatchInput",
    ),
    (
        "POST",
        r"/crm/properties/[^/]+/\w+/groups",
        PropertiesClient,
        "PropertyGroupCreate",
    ),
    ("POST", r"/crm/properties/[^/]+/\w+", PropertiesClient, "PropertyCreate"),
    ("PATCH", r"/crm/properties/[^/]+/\w+/\w+", PropertiesClient, "PropertyUpdate"),
    (
        "POST",
        r"/crm/objects/[^/]+/\w+/batch/upsert",
        ObjectsClient,
        "BatchInputSimplePublicObjectBatchInputUpsert",
    ),
    ("PATCH", r"/crm/objects/[^/]+/\w+/\d+", ObjectsClient, "SimplePublicObjectInput"),
    (
        "POST",
        r"/crm/objects/[^/]+/\w+",
        ObjectsClient,
        "SimplePublicObjectInputForCreate",
    ),
    (
        "POST",
        r"/crm/objects/[^/]+/\w+/search",
        ObjectsClient,
        "PublicObjectSearchRequest",
    ),
    (
        "POST",
        r"/crm/associations/[^/]+/\w+/\w+/batch/create",
        AssociationsClient,
        "BatchInputPublicAssociationMultiPost",
    ),
)


def comparable(body: dict) -> dict:
    """Return a body without ``sorts``.

    HubSpot's published description types sorts as strings, while its search
    documentation, and HubSpot itself, take objects.
    """
    return {key: value for key, value in body.items() if key != "sorts"}


def model_for(method: str, path: str):
    for wanted, pattern, client, model in MODELS:
        if wanted == method and re.fullmatch(pattern, path):
            return client, model
    return None


@pytest.fixture
def sent(world):
    """Return the list every request the connector sends is recorded in."""
    requests_seen = []

    def record(response, *args, **kwargs):
        request = response.request
        path = request.path_url.split("?")[0].removeprefix("/_sandbox/hubspot")
        body = json.loads(request.body) if request.body else None
        requests_seen.append((request.method, path, body))

    world.rt.session.hooks["response"].append(record)
    return requests_seen


def test_every_body_sent_fits_the_official_models(world, sent):
    portal = world.new_portal()
    world.hook("connect", portal)
    world.provision(portal)
    state = world.state(portal)
    world.control.verb(
        "delete_object",
        {
            "account": portal.portal_id,
            "kind": "stage",
            "id": state["stage_ids"]["CARE_STARTED"],
            "pipeline_id": state["pipeline_id"],
        },
    )
    world.api(
        portal,
        "PATCH",
        paths.path("pipeline", object_type="deals", pipeline_id=state["pipeline_id"]),
        json={"label": "Renamed"},
    )
    world.api(
        portal,
        "PATCH",
        paths.path(
            "stage",
            object_type="deals",
            pipeline_id=state["pipeline_id"],
            stage_id=state["stage_ids"]["NEW_LEAD"],
        ),
        json={"label": "Fresh"},
    )
    world.api(
        portal,
        "PATCH",
        paths.path("property", object_type="contacts", name="clearcare_location"),
        json={"label": "Where"},
    )
    world.provision(portal)
    contact = world.api(
        portal,
        "POST",
        paths.path("objects", object_type="contacts"),
        json={"properties": {"firstname": "Ann"}},
    )["id"]
    linked = world.hook(
        "apply_change",
        portal,
        change=Change(
            kind=ChangeKind.LINKED,
            ref=RecordRef("contact", contact),
            prospect=Prospect(first_name="Ann", city="Salem"),
            link_key="shape-1",
            remote_ids={"contact": contact},
            other_ids={"patient": "p-shape"},
        ),
    )
    world.hook(
        "apply_change",
        portal,
        change=Change(
            kind=ChangeKind.STATUS_CHANGED,
            ref=RecordRef("contact", contact),
            prospect=Prospect(status=ProspectStatus.NEEDS_CONTRACT),
            link_key="shape-1",
            remote_ids=dict(linked.remote_ids),
        ),
    )
    world.hook(
        "apply_change",
        portal,
        change=Change(
            kind=ChangeKind.CREATED,
            prospect=Prospect(first_name="Bo", email="bo@example.org"),
            link_key="shape-2",
        ),
    )
    cursor = world.hook("fetch_changes", portal, cursor=None).cursor
    world.hook("fetch_changes", portal, cursor=str(int(cursor) - 60_000))

    checked = set()
    for method, path, body in sent:
        if method == "GET" or "/automation/" in path:
            continue
        found = model_for(method, path)
        assert found is not None, f"no SDK model known for {method} {path}"
        client_class, model = found
        client = client_class()
        parsed = client._ApiClient__deserialize(body, model)
        assert comparable(client.sanitize_for_serialization(parsed)) == comparable(
            body
        ), (method, path)
        checked.add(model)

    assert checked == {model for *_, model in MODELS}
