"""The workflows API (automation flows): schema checks, tiers, revisions."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify

from carehub_hubspot.sandbox import definitions, routing, state, store
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.payload import batch_inputs, json_body

FLOW_TYPES = {"CONTACT_FLOW": {"0-1"}, "PLATFORM_FLOW": {"0-3"}}
COMMON = {
    "flowType": str, "name": str, "isEnabled": bool, "actions": list,
    "enrollmentCriteria": dict, "blockedDates": list, "timeWindows": list,
    "customProperties": (list, dict), "dataSources": list,
}  # fmt: skip
CONTACT_ONLY = {"suppressionListIds": list, "canEnrollFromSalesforce": bool}
CRITERIA = {
    "LIST_BASED": {
        "listFilterBranch": dict,
        "reEnrollmentTriggersFilterBranches": list,
        "shouldReEnroll": bool,
        "unEnrollObjectsNotMeetingCriteria": bool,
    },
    "EVENT_BASED": {
        "eventFilterBranches": list,
        "listMembershipFilterBranches": list,
        "shouldReEnroll": bool,
    },
}
SUMMARY = ("id", "isEnabled", "flowType", "revisionId", "name", "objectTypeId",
           "createdAt", "updatedAt")  # fmt: skip


def register(bp: Blueprint) -> None:
    """Add the flows endpoints under both path families."""
    routing.add(bp, "flows", "", list_flows, ["GET"])
    routing.add(bp, "flows", "", create_flow, ["POST"])
    routing.add(bp, "flows", "/batch/read", batch_read, ["POST"])
    routing.add(bp, "flows", "/<flow_id>", read_flow, ["GET"])
    routing.add(bp, "flows", "/<flow_id>", replace_flow, ["PUT"])
    routing.add(bp, "flows", "/<flow_id>", delete_flow, ["DELETE"])


def _professional() -> dict:
    portal = state.portal()
    if portal["tier"] not in ("professional", "enterprise"):
        raise ApiError(
            403,
            "The workflows API needs a Professional or Enterprise subscription; this "
            f"account is on {portal['tier']}.",
            category="MISSING_TIER",
        )

    return portal


def _load(conn, flow_id: str) -> dict:
    flow = definitions.get(conn, state.portal()["id"], "flow", "flows", flow_id)
    if flow is None:
        raise ApiError(404, f"Flow {flow_id} was not found.")

    return flow


def list_flows():
    """Answer a summary of every flow of the portal."""
    _professional()
    with state.tx() as conn:
        flows = definitions.all_of(conn, state.portal()["id"], "flow", "flows")
    flows.sort(key=lambda flow: int(flow["id"]))

    return jsonify({"results": [{k: f.get(k) for k in SUMMARY} for f in flows]})


def read_flow(flow_id: str):
    """Answer one flow."""
    _professional()
    with state.tx() as conn:
        return jsonify(_load(conn, flow_id))


def batch_read():
    """Answer several flows by id."""
    _professional()
    inputs = batch_inputs(json_body())
    with state.tx() as conn:
        portal_id = state.portal()["id"]
        found = [
            definitions.get(conn, portal_id, "flow", "flows", str(item.get("flowId")))
            for item in inputs
            if isinstance(item, dict)
        ]

    return jsonify({"status": "COMPLETE", "results": [f for f in found if f]})


def create_flow():
    """Create a flow; answer 201 with its id and first revision."""
    portal = _professional()
    body = json_body()
    check(body, portal)
    with state.tx() as conn:
        stamp = store.iso(store.now(conn))
        flow = {
            **body,
            "id": str(store.next_id(conn, "flow", 500_000_000)),
            "revisionId": "1",
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        definitions.put(conn, portal["id"], "flow", "flows", flow["id"], flow)

    return jsonify(flow), 201


def replace_flow(flow_id: str):
    """Replace a flow; the body must carry the flow's current ``revisionId``."""
    portal = _professional()
    body = json_body()
    with state.tx() as conn:
        flow = _load(conn, flow_id)
        revision = body.get("revisionId")
        if revision is None:
            raise ApiError(400, "Send the flow's current 'revisionId' with the update.")
        if str(revision) != flow["revisionId"]:
            raise ApiError(
                409,
                f"revisionId {revision} is not the flow's latest revision "
                f"({flow['revisionId']}); read the flow again and resend.",
            )
        for fixed in ("type", "objectTypeId"):
            if fixed in body and body[fixed] != flow[fixed]:
                raise ApiError(400, f"A flow's '{fixed}' cannot change.")
        merged = {**body, "type": flow["type"], "objectTypeId": flow["objectTypeId"]}
        check(merged, portal)
        merged.update(
            id=flow_id,
            revisionId=str(int(flow["revisionId"]) + 1),
            createdAt=flow["createdAt"],
            updatedAt=store.iso(store.now(conn)),
        )
        definitions.put(conn, portal["id"], "flow", "flows", flow_id, merged)

    return jsonify(merged)


def delete_flow(flow_id: str):
    """Delete a flow; answer 204."""
    _professional()
    with state.tx() as conn:
        _load(conn, flow_id)
        definitions.remove(conn, state.portal()["id"], "flow", "flows", flow_id)

    return "", 204


def _require(body: dict, fields: dict, where: str) -> None:
    for name, kind in fields.items():
        if name not in body:
            raise ApiError(400, f"{where} is missing the required field '{name}'.")
        if not isinstance(body[name], kind):
            raise ApiError(400, f"{where} field '{name}' has the wrong type.")


def check(body: dict[str, Any], portal: dict) -> None:
    """Raise HubSpot's error when a flow does not fit the schema or the tier."""
    flow_type = body.get("type")
    if flow_type not in FLOW_TYPES:
        raise ApiError(400, "A flow's 'type' must be CONTACT_FLOW or PLATFORM_FLOW.")
    if body.get("objectTypeId") not in FLOW_TYPES[flow_type]:
        raise ApiError(
            400,
            f"A {flow_type} needs objectTypeId "
            f"{' or '.join(sorted(FLOW_TYPES[flow_type]))}.",
        )
    _require(body, COMMON, "The flow")
    if flow_type == "CONTACT_FLOW":
        _require(body, CONTACT_ONLY, "The contact flow")
    if body["flowType"] != "WORKFLOW":
        raise ApiError(400, "A flow's 'flowType' must be WORKFLOW.")
    if not body["name"].strip():
        raise ApiError(400, "A flow needs a 'name'.")

    criteria = body["enrollmentCriteria"]
    kind = criteria.get("type")
    if kind not in CRITERIA:
        raise ApiError(
            400, "enrollmentCriteria.type must be LIST_BASED or EVENT_BASED."
        )
    _require(criteria, CRITERIA[kind], f"The {kind} enrollmentCriteria")
    if kind == "EVENT_BASED":
        for branch in criteria["eventFilterBranches"]:
            if not isinstance(branch, dict) or not branch.get("eventTypeId"):
                raise ApiError(400, "Each event filter branch needs an 'eventTypeId'.")

    actions = body["actions"]
    ids = [
        str(action.get("actionId")) for action in actions if isinstance(action, dict)
    ]
    if len(ids) != len(actions) or "None" in ids or len(set(ids)) != len(ids):
        raise ApiError(400, "Each action needs a distinct 'actionId'.")
    if actions and str(body.get("startActionId")) not in ids:
        raise ApiError(400, "'startActionId' must name one of the flow's actions.")
    for action in actions:
        if action.get("type") == "WEBHOOK":
            _check_webhook(action, portal)


def _check_webhook(action: dict, portal: dict) -> None:
    if not portal["operations_hub"]:
        raise ApiError(
            403,
            "The 'Send a webhook' action needs Operations Hub Professional or "
            "Enterprise, which this account does not have.",
            category="MISSING_TIER",
        )
    if str(action.get("method", "")).upper() not in ("POST", "GET"):
        raise ApiError(400, "A webhook action's 'method' must be POST or GET.")
    url = action.get("webhookUrl")
    if not isinstance(url, str) or not _allowed_url(url):
        raise ApiError(400, f"webhookUrl {url!r} must be an https URL.")
    for param in action.get("queryParams") or []:
        value = (param or {}).get("value") or {}
        if not param.get("name") or value.get("type") not in (
            "OBJECT_PROPERTY",
            "STATIC_VALUE",
        ):
            raise ApiError(
                400,
                "Each query parameter needs a 'name' and a 'value' of "
                "type OBJECT_PROPERTY or STATIC_VALUE.",
            )
    auth = action.get("authSettings")
    if auth is not None and auth.get("type") not in ("SIGNATURE", "AUTH_KEY"):
        raise ApiError(400, "authSettings.type must be SIGNATURE or AUTH_KEY.")
    if auth and auth.get("type") == "SIGNATURE" and not auth.get("appId"):
        raise ApiError(
            400, "Signature authSettings need the 'appId' whose secret signs."
        )


def _allowed_url(url: str) -> bool:
    """Return whether a webhook URL is https, or http to this machine or the hub."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    public = urlsplit(current_app.config.get("HUB_PUBLIC_URL") or "").hostname
    if parts.hostname in ("localhost", public):
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False
