"""Every HubSpot API path the connector calls, in one table.

HubSpot ships a dated API version every March and September; bumping
:data:`VERSION` (and :data:`FLOWS_VERSION` for the workflows beta) moves every call.
"""

from __future__ import annotations

from urllib.parse import quote

#: The dated version of the CRM APIs.
VERSION = "2026-09"
#: The dated version of the workflows API, which is still a beta.
FLOWS_VERSION = "2026-09-beta"

#: HubSpot's ids for the object types the connector uses.
CONTACTS = "contacts"
DEALS = "deals"
CONTACT_TYPE_ID = "0-1"
DEAL_TYPE_ID = "0-3"

PATHS = {
    "account_details": "/account-info/v3/details",
    "oauth_token": "/oauth/v1/access-tokens/{token}",
    "objects": "/crm/objects/{version}/{object_type}",
    "object": "/crm/objects/{version}/{object_type}/{id}",
    "objects_batch": "/crm/objects/{version}/{object_type}/batch/{action}",
    "objects_search": "/crm/objects/{version}/{object_type}/search",
    "properties": "/crm/properties/{version}/{object_type}",
    "property": "/crm/properties/{version}/{object_type}/{name}",
    "property_groups": "/crm/properties/{version}/{object_type}/groups",
    "property_group": "/crm/properties/{version}/{object_type}/groups/{name}",
    "pipelines": "/crm/pipelines/{version}/{object_type}",
    "pipeline": "/crm/pipelines/{version}/{object_type}/{pipeline_id}",
    "stages": "/crm/pipelines/{version}/{object_type}/{pipeline_id}/stages",
    "stage": "/crm/pipelines/{version}/{object_type}/{pipeline_id}/stages/{stage_id}",
    "associations_batch": (
        "/crm/associations/{version}/{from_type}/{to_type}/batch/{action}"
    ),
    "flows": "/automation/{flows_version}/flows",
    "flow": "/automation/{flows_version}/flows/{flow_id}",
}

#: Paths whose calls count against the search limit instead of the general one.
SEARCH_SUFFIX = "/search"


def path(which: str, /, **values: str) -> str:
    """Return the path called ``which`` with its placeholders filled and escaped."""
    values = {key: quote(str(value), safe="") for key, value in values.items()}
    values.setdefault("version", VERSION)
    values.setdefault("flows_version", FLOWS_VERSION)

    return PATHS[which].format(**values)


def is_search(url_path: str) -> bool:
    """Return whether a path is a search call, which has its own rate limit."""
    return url_path.rstrip("/").endswith(SEARCH_SUFFIX)
