"""Workflow enrollment: which enabled workflows a written record enters, and the
webhooks that queues for the sender."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import sqlalchemy as sa

from carehub_hubspot.sandbox import bodies, definitions, store

log = logging.getLogger(__name__)


def after_write(
    conn: sa.Connection,
    portal: dict,
    object_type: str,
    record: dict,
    changed: list[str] | None,
) -> None:
    """Enroll a record just created (``changed`` None) or changed in every enabled
    workflow whose criteria it meets, and queue their webhooks."""
    type_id = definitions.OBJECT_TYPE_IDS[object_type]
    for flow in definitions.all_of(conn, portal["id"], "flow", "flows"):
        if not flow.get("isEnabled") or flow.get("objectTypeId") != type_id:
            continue
        if _enrolls(conn, portal["id"], flow, record, changed):
            _enroll(conn, portal, flow, object_type, record)


def branch_matches(branch: dict, held: dict) -> bool:
    """Return whether a record's values meet a filter branch (OR/AND, nested)."""
    parts = [filter_matches(item, held) for item in branch.get("filters") or []]
    parts += [
        branch_matches(child, held) for child in branch.get("filterBranches") or []
    ]
    if str(branch.get("filterBranchType", "AND")).upper() == "OR":
        return any(parts)

    return all(parts)


def filter_matches(item: dict, held: dict) -> bool:
    """Return whether a record's values meet one PROPERTY filter."""
    if item.get("filterType") != "PROPERTY":
        return False
    operation = item.get("operation") or {}
    operator = str(operation.get("operator", "")).upper()
    value = held.get(item.get("property"))
    known = value not in (None, "")
    if operator == "IS_KNOWN":
        return known
    if operator == "IS_UNKNOWN":
        return not known
    if not known:
        return bool(operation.get("includeObjectsWithNoValueSet")) or operator in (
            "IS_NONE_OF",
            "IS_NOT_EQUAL_TO",
            "DOES_NOT_CONTAIN",
        )

    text = str(value)
    wanted = [str(v) for v in operation.get("values") or []]
    if "value" in operation:
        wanted.append(str(operation["value"]))
    lowered = [w.lower() for w in wanted]
    if operator in ("IS_ANY_OF", "IS_EQUAL_TO"):
        return text.lower() in lowered
    if operator in ("IS_NONE_OF", "IS_NOT_EQUAL_TO"):
        return text.lower() not in lowered
    if operator == "CONTAINS":
        return any(w in text.lower() for w in lowered)
    if operator == "DOES_NOT_CONTAIN":
        return not any(w in text.lower() for w in lowered)
    if operator == "STARTS_WITH":
        return any(text.lower().startswith(w) for w in lowered)
    if operator == "ENDS_WITH":
        return any(text.lower().endswith(w) for w in lowered)
    comparisons = {
        "IS_GREATER_THAN": lambda a, b: a > b,
        "IS_GREATER_THAN_OR_EQUAL_TO": lambda a, b: a >= b,
        "IS_LESS_THAN": lambda a, b: a < b,
        "IS_LESS_THAN_OR_EQUAL_TO": lambda a, b: a <= b,
    }
    if operator in comparisons and wanted:
        try:
            return comparisons[operator](float(text), float(wanted[0]))
        except ValueError:
            return False

    return False


def _enrolls(
    conn: sa.Connection, portal_id: int, flow: dict, record: dict, changed
) -> bool:
    criteria = flow.get("enrollmentCriteria") or {}
    if criteria.get("type") != "LIST_BASED":
        return False
    held = record["properties"]
    if not branch_matches(criteria.get("listFilterBranch") or {}, held):
        return False
    e = store.enrollments
    enrolled = conn.execute(
        sa.select(e.c.count).where(
            e.c.portal_id == portal_id,
            e.c.flow_id == flow["id"],
            e.c.object_id == record["id"],
        )
    ).first()
    if enrolled is None:
        # Enrolled the first time it meets the criteria: when created meeting them,
        # or when a change to a property they name makes it meet them. A record
        # that met them all along (from before the workflow was turned on) is not
        # enrolled by a write of other properties.
        return changed is None or bool(
            set(_properties_of(criteria.get("listFilterBranch") or {})) & set(changed)
        )
    if not criteria.get("shouldReEnroll") or not changed:
        return False

    return any(
        _trigger_fires(branch, held, changed)
        for branch in criteria.get("reEnrollmentTriggersFilterBranches") or []
    )


def _trigger_fires(branch: dict, held: dict, changed: list[str]) -> bool:
    return bool(set(_properties_of(branch)) & set(changed)) and branch_matches(
        branch, held
    )


def _properties_of(branch: dict) -> list[str]:
    names = [item.get("property") for item in branch.get("filters") or []]
    for child in branch.get("filterBranches") or []:
        names += _properties_of(child)

    return [name for name in names if name]


def _enroll(
    conn: sa.Connection, portal: dict, flow: dict, object_type: str, record: dict
) -> None:
    now = store.now(conn)
    e = store.enrollments
    where = (
        (e.c.portal_id == portal["id"])
        & (e.c.flow_id == flow["id"])
        & (e.c.object_id == record["id"])
    )
    updated = conn.execute(
        e.update().where(where).values(count=e.c.count + 1, last_at=now)
    )
    if not updated.rowcount:
        conn.execute(
            e.insert().values(
                portal_id=portal["id"],
                flow_id=flow["id"],
                object_id=record["id"],
                count=1,
                last_at=now,
            )
        )

    body = json.dumps(bodies.webhook_body(conn, portal, object_type, record))
    for action in _chain(flow):
        if action.get("type") != "WEBHOOK":
            continue
        conn.execute(
            store.deliveries.insert().values(
                portal_id=portal["id"],
                flow_id=flow["id"],
                action_id=str(action.get("actionId")),
                object_type=object_type,
                object_id=record["id"],
                method=str(action.get("method", "POST")).upper(),
                url=_url(action, record["properties"]),
                body=body,
                auth=action.get("authSettings"),
                state="pending",
                attempts=[],
                first_at=now,
                next_at=now,
                claimed_until=0.0,
            )
        )
        log.info(
            "Workflow %s of portal %s enrolled %s %s; webhook queued",
            flow["id"],
            portal["id"],
            object_type,
            record["id"],
        )


def _chain(flow: dict) -> list[dict]:
    actions = {str(a.get("actionId")): a for a in flow.get("actions") or []}
    chain, seen = [], set()
    current = str(flow.get("startActionId"))
    while current in actions and current not in seen:
        seen.add(current)
        chain.append(actions[current])
        connection = actions[current].get("connection") or {}
        current = str(connection.get("nextActionId"))

    return chain


def _url(action: dict, held: dict) -> str:
    url = action["webhookUrl"]
    pairs = []
    for param in action.get("queryParams") or []:
        value = param.get("value") or {}
        if value.get("type") == "OBJECT_PROPERTY":
            pairs.append((param["name"], held.get(value.get("propertyName")) or ""))
        else:
            pairs.append((param["name"], str(value.get("staticValue", ""))))
    if not pairs:
        return url

    return url + ("&" if "?" in url else "?") + urlencode(pairs)
