"""The contact and deal properties the sync needs, made once and kept as wanted.

"ClearCare location" lists the agency's locations as options; they are rewritten
whenever the agency's locations change.
"""

from __future__ import annotations

import hashlib
import json

from carehub_hubspot import paths
from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.errors import Conflict, ObjectNotFound, ProvisionProblem
from carehub_hubspot.records import (
    CONTACT_PROPERTIES,
    LINK_ID,
    PROPERTY_LABELS,
    PROSPECT_ID,
)

GROUP_NAME = "clearcare"
GROUP_LABEL = "ClearCare"
LOCATION = "clearcare_location"
#: The keys of a property compared to find drift; HubSpot adds others.
COMPARED = ("label", "type", "fieldType", "groupName")


def location_options(agency) -> list[dict]:
    """Return the options of "ClearCare location": one per location of the agency."""
    return [
        {
            "label": location.name,
            "value": str(location.remote_id),
            "hidden": not location.active,
            "displayOrder": order,
        }
        for order, location in enumerate(agency.locations)
    ]


def locations_fingerprint(agency) -> str:
    """Return a short hash of the agency's locations, to notice when they change."""
    raw = json.dumps(location_options(agency), sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def wanted_properties(agency) -> list[tuple[str, dict]]:
    """Return each property the hub needs, with its object type.

    "ClearCare location" is left out while the agency has no locations, since
    HubSpot needs at least one option.
    """
    wanted = [
        (
            paths.CONTACTS,
            {
                "name": PROSPECT_ID,
                "label": "ClearCare Prospect Id",
                "type": "string",
                "fieldType": "text",
                "groupName": GROUP_NAME,
                "hasUniqueValue": True,
                "formField": True,
            },
        ),
        (
            paths.CONTACTS,
            {
                "name": LOCATION,
                "label": "ClearCare location",
                "type": "enumeration",
                "fieldType": "select",
                "groupName": GROUP_NAME,
                "options": location_options(agency),
                "formField": True,
            },
        ),
        (
            paths.DEALS,
            {
                "name": LINK_ID,
                "label": "carehub link id",
                "description": "The hub's id for the person; keeps deals unique.",
                "type": "string",
                "fieldType": "text",
                "groupName": "dealinformation",
                "hasUniqueValue": True,
                "formField": False,
            },
        ),
    ]
    if not agency.locations:
        wanted = [(t, spec) for t, spec in wanted if spec["name"] != LOCATION]

    return wanted


def ensure_properties(client: HubSpotClient, agency, connection) -> str:
    """Make or repair the group and properties; return what was done, in words."""
    done = []
    if _ensure_group(client):
        done.append(f'Created the contact property group "{GROUP_LABEL}"')
    for object_type, spec in wanted_properties(agency):
        result = _ensure_property(client, object_type, spec)
        if result:
            done.append(result)

    connection.update_state(
        properties=[spec["name"] for _, spec in wanted_properties(agency)],
        locations_fingerprint=locations_fingerprint(agency),
    )
    if not agency.locations:
        made = "; ".join(done) + ". " if done else ""
        raise ProvisionProblem(
            f'{made}The agency has no locations yet, so "ClearCare location" '
            "cannot be made: HubSpot needs at least one option. Connect and "
            "provision ClearCare, where the locations come from, then provision "
            "HubSpot again."
        )
    if done:
        summary = "; ".join(done) + "."
    else:
        summary = "The ClearCare properties are as they should be."

    return f"{summary} {creation_form_steps(agency)}"


def creation_form_steps(agency) -> str:
    """Return what the admin sets by hand in HubSpot's contact creation form."""
    required = [
        PROPERTY_LABELS[CONTACT_PROPERTIES[field]]
        for field in agency.required_fields
        if field in CONTACT_PROPERTIES
    ]
    if len(agency.locations) > 1:
        required.append(PROPERTY_LABELS[LOCATION])
    steps = (
        "HubSpot's API cannot change the contact creation form, so in HubSpot open "
        "Settings › Objects › Contacts, click Manage next to the properties shown "
        "when creating contacts, and add ClearCare location and ClearCare Prospect Id"
    )
    if not required:
        return steps + "."
    return (
        f"{steps}; tick Required for {', '.join(dict.fromkeys(required))}, which the "
        "agency's care system requires."
    )


def refresh_locations(client: HubSpotClient, agency, connection) -> bool:
    """Rewrite the location options when the agency's locations changed since."""
    fingerprint = locations_fingerprint(agency)
    known = (connection.state or {}).get("locations_fingerprint")
    if known is None or known == fingerprint:
        return False
    for object_type, spec in wanted_properties(agency):
        if spec["name"] == LOCATION:
            _ensure_property(client, object_type, spec)
    connection.update_state(locations_fingerprint=fingerprint)

    return True


def _ensure_group(client: HubSpotClient) -> bool:
    path = paths.path("property_group", object_type=paths.CONTACTS, name=GROUP_NAME)
    try:
        client.get(path, what=f"reading the property group {GROUP_NAME}")
        return False
    except ObjectNotFound:
        pass
    try:
        client.request(
            "POST",
            paths.path("property_groups", object_type=paths.CONTACTS),
            json={"name": GROUP_NAME, "label": GROUP_LABEL, "displayOrder": -1},
            what=f"creating the property group {GROUP_NAME}",
        )
    except Conflict:
        return False
    return True


def _ensure_property(client: HubSpotClient, object_type: str, spec: dict) -> str:
    name = spec["name"]
    path = paths.path("property", object_type=object_type, name=name)
    try:
        current = client.get(path, what=f"reading the property {name}")
    except ObjectNotFound:
        current = None

    if current is None or current.get("archived"):
        try:
            client.request(
                "POST",
                paths.path("properties", object_type=object_type),
                json=spec,
                what=f"creating the property {name}",
            )
            return f'Created the property "{spec["label"]}"'
        except Conflict:
            current = client.get(path, what=f"reading the property {name}")

    fix = {key: spec[key] for key in COMPARED if current.get(key) != spec[key]}
    if "options" in spec and _options(current.get("options")) != _options(
        spec["options"]
    ):
        fix["options"] = spec["options"]
    if not fix:
        return ""
    client.request("PATCH", path, json=fix, what=f"repairing the property {name}")

    return f'Repaired the property "{spec["label"]}" ({", ".join(fix)})'


def _options(options) -> list[tuple]:
    return [
        (str(o.get("value")), o.get("label"), bool(o.get("hidden")))
        for o in options or []
    ]
