"""HubSpot's official Python SDK, unchanged but for its host, against the sandbox."""

from __future__ import annotations

import pytest

pytest.importorskip("hubspot")

from hubspot import HubSpot  # noqa: E402
from hubspot.crm.associations.v4 import BatchInputPublicAssociationMultiPost  # noqa: E402
from hubspot.crm.contacts import (  # noqa: E402
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException  # noqa: E402
from hubspot.crm.deals import (  # noqa: E402
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
)
from hubspot.crm.deals import (  # noqa: E402
    SimplePublicObjectInputForCreate as DealInput,
)
from hubspot.crm.pipelines import (  # noqa: E402
    PipelineInput,
    PipelineStageInput,
)
from hubspot.crm.properties import OptionInput, PropertyCreate  # noqa: E402


@pytest.fixture
def client(portal):
    """Return the official SDK pointed at the sandbox."""
    return HubSpot(access_token=portal.token, host=portal.base_url)


def test_contacts_work_as_the_sdk_expects(client):
    contacts = client.crm.contacts

    created = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "sdk@example.com", "firstname": "Sid"}
        )
    )
    contacts.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"lastname": "Kit"})
    )
    read = contacts.basic_api.get_by_id(
        created.id, properties=["firstname", "lastname"]
    )
    page = contacts.basic_api.get_page(limit=10, properties=["email"])

    assert created.id.isdigit()
    assert read.properties["lastname"] == "Kit"
    assert [item.id for item in page.results] == [created.id]
    with pytest.raises(ApiException) as caught:
        contacts.basic_api.get_by_id("999999")
    assert caught.value.status == 404


def test_deals_with_associations_work_as_the_sdk_expects(client):
    contact = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"firstname": "Ann"})
    )

    deal = client.crm.deals.basic_api.create(
        DealInput(
            properties={"dealname": "Care for Ann", "dealstage": "qualifiedtobuy"},
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=contact.id),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=3,
                        )
                    ],
                )
            ],
        )
    )
    read = client.crm.deals.basic_api.get_by_id(
        deal.id, properties=["dealstage"], associations=["contacts"]
    )
    linked = client.crm.associations.v4.batch_api.get_page(
        "deals",
        "contacts",
        batch_input_public_fetch_associations_batch_request={
            "inputs": [{"id": deal.id}]
        },
    )
    more = client.crm.associations.v4.batch_api.create(
        "contacts",
        "deals",
        batch_input_public_association_multi_post=BatchInputPublicAssociationMultiPost(
            inputs=[
                {
                    "from": {"id": contact.id},
                    "to": {"id": deal.id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 4,
                        }
                    ],
                }
            ]
        ),
    )

    assert read.properties["dealstage"] == "qualifiedtobuy"
    assert read.associations["contacts"].results[0].id == contact.id
    assert str(linked.results[0].to[0].to_object_id) == contact.id
    assert str(more.results[0].to_object_id) == deal.id


def test_properties_work_as_the_sdk_expects(client):
    created = client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="clearcare_location",
            label="ClearCare location",
            type="enumeration",
            field_type="select",
            group_name="contactinformation",
            options=[
                OptionInput(label="North", value="north", hidden=False, display_order=0)
            ],
        ),
    )
    everything = client.crm.properties.core_api.get_all("contacts")
    groups = client.crm.properties.groups_api.get_all("contacts")

    assert created.options[0].value == "north"
    assert "clearcare_location" in [p.name for p in everything.results]
    assert "contactinformation" in [g.name for g in groups.results]


def test_pipelines_work_as_the_sdk_expects(client):
    created = client.crm.pipelines.pipelines_api.create(
        "deals",
        PipelineInput(
            label="ClearCare_Sales_Pipeline",
            display_order=1,
            stages=[
                PipelineStageInput(
                    label="New Lead", display_order=0, metadata={"probability": "0.1"}
                ),
                PipelineStageInput(
                    label="Won", display_order=1, metadata={"probability": "1.0"}
                ),
            ],
        ),
    )
    everything = client.crm.pipelines.pipelines_api.get_all("deals")

    assert created.id.isdigit()
    assert [s.label for s in created.stages] == ["New Lead", "Won"]
    assert {p.id for p in everything.results} == {"default", created.id}


def test_search_works_as_the_sdk_expects(client):
    for name in ("Ann", "Bob"):
        client.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"firstname": name})
        )

    found = client.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(property_name="firstname", operator="EQ", value="Bob")
                    ]
                )
            ],
            properties=["firstname"],
            limit=10,
        )
    )

    assert found.total == 1
    assert found.results[0].properties["firstname"] == "Bob"
