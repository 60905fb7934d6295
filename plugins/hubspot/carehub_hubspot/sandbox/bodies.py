"""The bodies workflow webhooks carry: the legacy contact profile, and the deal."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from carehub_hubspot.sandbox import links, store


def webhook_body(
    conn: sa.Connection, portal: dict, object_type: str, record: dict
) -> dict[str, Any]:
    """Return the body a workflow webhook sends: the legacy contact profile for a
    contact, the deal with its current values for a deal."""
    if object_type == "contacts":
        return _contact_profile(portal, record)
    contacts = links.targets(conn, portal["id"], "deals", record["id"], "contacts")
    history = record["history"]

    return {
        "portalId": portal["id"],
        "objectType": "DEAL",
        "objectId": record["id"],
        "dealId": record["id"],
        "isDeleted": False,
        "associations": {
            "associatedVids": contacts,
            "associatedCompanyIds": [],
            "associatedDealIds": [],
        },
        "properties": {
            name: {
                "value": value,
                "timestamp": _latest(history, name, record),
                "source": "API",
                "sourceId": None,
            }
            for name, value in record["properties"].items()
        },
        "imports": [],
        "stateChanges": [],
    }


def _latest(history: dict, name: str, record: dict) -> int:
    versions = history.get(name) or []
    if versions:
        return versions[0]["timestamp"]

    return store.millis(record["updated_at"])


def _contact_profile(portal: dict, record: dict) -> dict[str, Any]:
    vid = record["id"]
    held = record["properties"]
    history = record["history"]
    properties = {}
    for name, value in held.items():
        versions = history.get(name) or [
            {"value": value, "timestamp": store.millis(record["updated_at"])}
        ]
        properties[name] = {
            "value": value,
            "versions": [
                {
                    "value": version["value"],
                    "source-type": "API",
                    "source-id": None,
                    "source-label": None,
                    "timestamp": version["timestamp"],
                    "selected": False,
                }
                for version in versions
            ],
        }
    identities = []
    created = store.millis(record["created_at"])
    if held.get("email"):
        identities.append(
            {
                "type": "EMAIL",
                "value": held["email"],
                "timestamp": created,
                "is-primary": True,
            }
        )
    identities.append(
        {"type": "LEAD_GUID", "value": f"{portal['id']}-{vid}", "timestamp": created}
    )

    return {
        "vid": vid,
        "canonical-vid": vid,
        "merged-vids": [],
        "portal-id": portal["id"],
        "is-contact": True,
        "properties": properties,
        "form-submissions": [],
        "list-memberships": [],
        "identity-profiles": [
            {
                "vid": vid,
                "saved-at-timestamp": store.millis(record["updated_at"]),
                "deleted-changed-timestamp": 0,
                "identities": identities,
            }
        ],
        "merge-audits": [],
    }
