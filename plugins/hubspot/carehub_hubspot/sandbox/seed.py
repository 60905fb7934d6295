"""What a new HubSpot portal already holds: standard groups, properties, pipeline."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from carehub_hubspot.sandbox import store

GROUPS = {
    "contacts": [("contactinformation", "Contact information")],
    "deals": [("dealinformation", "Deal information")],
}

LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]

DEAL_TYPES = [
    ("newbusiness", "New Business"),
    ("existingbusiness", "Existing Business"),
]

#: (name, label, type, fieldType, read-only value, options)
CONTACT_PROPERTIES = [
    ("firstname", "First Name", "string", "text", False, None),
    ("lastname", "Last Name", "string", "text", False, None),
    ("email", "Email", "string", "text", False, None),
    ("phone", "Phone Number", "string", "phonenumber", False, None),
    ("mobilephone", "Mobile Phone Number", "string", "phonenumber", False, None),
    ("address", "Street Address", "string", "text", False, None),
    ("city", "City", "string", "text", False, None),
    ("state", "State/Region", "string", "text", False, None),
    ("zip", "Postal Code", "string", "text", False, None),
    ("country", "Country/Region", "string", "text", False, None),
    ("company", "Company Name", "string", "text", False, None),
    ("jobtitle", "Job Title", "string", "text", False, None),
    ("website", "Website URL", "string", "text", False, None),
    (
        "lifecyclestage",
        "Lifecycle Stage",
        "enumeration",
        "radio",
        False,
        LIFECYCLE_STAGES,
    ),
    ("hs_object_id", "Record ID", "number", "number", True, None),
    ("createdate", "Create Date", "datetime", "date", False, None),
    ("lastmodifieddate", "Last Modified Date", "datetime", "date", True, None),
]

DEAL_PROPERTIES = [
    ("dealname", "Deal Name", "string", "text", False, None),
    ("amount", "Amount", "number", "number", False, None),
    ("pipeline", "Pipeline", "enumeration", "select", False, []),
    ("dealstage", "Deal Stage", "enumeration", "radio", False, []),
    ("closedate", "Close Date", "datetime", "date", False, None),
    ("dealtype", "Deal Type", "enumeration", "radio", False, DEAL_TYPES),
    ("description", "Deal Description", "string", "textarea", False, None),
    ("hs_object_id", "Record ID", "number", "number", True, None),
    ("createdate", "Create Date", "datetime", "date", False, None),
    ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", True, None),
]

#: The default deal pipeline's stages: (id, label, probability).
DEFAULT_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
]


def property_body(
    name: str,
    label: str,
    type_: str,
    field_type: str,
    group_name: str,
    stamp: str,
    *,
    options: list[dict] | None = None,
    description: str = "",
    display_order: int = -1,
    has_unique_value: bool = False,
    hidden: bool = False,
    form_field: bool = False,
    hubspot_defined: bool = False,
    read_only_value: bool = False,
) -> dict[str, Any]:
    """Return a property as HubSpot's properties API shows it."""
    body = {
        "updatedAt": stamp,
        "createdAt": stamp,
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": description,
        "groupName": group_name,
        "options": options or [],
        "displayOrder": display_order,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": has_unique_value,
        "hidden": hidden,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only_value,
        },
        "formField": form_field,
        "archived": False,
    }
    if hubspot_defined:
        body["hubspotDefined"] = True

    return body


def stage_body(
    stage_id: str, label: str, display_order: int, metadata: dict, stamp: str
) -> dict[str, Any]:
    """Return a pipeline stage as HubSpot's pipelines API shows it."""
    return {
        "label": label,
        "displayOrder": display_order,
        "metadata": metadata,
        "id": stage_id,
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def deal_stage_metadata(probability: str) -> dict[str, str]:
    """Return a deal stage's metadata: closed when its probability is 0 or 1."""
    closed = float(probability) in (0.0, 1.0)

    return {"isClosed": "true" if closed else "false", "probability": probability}


def seed_portal(conn: sa.Connection, portal_id: int, stamp: str) -> None:
    """Give a new portal the groups, properties and pipeline HubSpot starts with."""
    rows = []
    for object_type, groups in GROUPS.items():
        for order, (name, label) in enumerate(groups):
            body = {
                "name": name,
                "label": label,
                "displayOrder": order,
                "archived": False,
            }
            rows.append(("group", object_type, name, body))

    for object_type, group, specs in (
        ("contacts", "contactinformation", CONTACT_PROPERTIES),
        ("deals", "dealinformation", DEAL_PROPERTIES),
    ):
        for order, (name, label, type_, field_type, read_only, options) in enumerate(
            specs
        ):
            body = property_body(
                name,
                label,
                type_,
                field_type,
                group,
                stamp,
                options=[
                    {"label": text, "value": value, "displayOrder": i, "hidden": False}
                    for i, (value, text) in enumerate(options or [])
                ],
                display_order=order,
                form_field=not read_only,
                hubspot_defined=True,
                read_only_value=read_only,
            )
            rows.append(("property", object_type, name, body))

    stages = [
        stage_body(stage_id, label, order, deal_stage_metadata(probability), stamp)
        for order, (stage_id, label, probability) in enumerate(DEFAULT_STAGES)
    ]
    pipeline = {
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "id": "default",
        "stages": stages,
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }
    rows.append(("pipeline", "deals", "default", pipeline))

    conn.execute(
        store.definitions.insert(),
        [
            {
                "portal_id": portal_id,
                "kind": kind,
                "object_type": object_type,
                "key": key,
                "body": body,
                "archived": False,
            }
            for kind, object_type, key, body in rows
        ],
    )
