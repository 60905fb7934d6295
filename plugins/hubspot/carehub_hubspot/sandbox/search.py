"""CRM search: filter groups, sorts, paging, the 200 page size and 10,000 cap."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from carehub_hubspot.sandbox import (
    definitions,
    records,
    routing,
    shapes,
    state,
    store,
    values,
)
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.payload import json_body

MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_GROUPS = 6
MAX_FILTERS = 18
OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}  # fmt: skip


def register(bp: Blueprint) -> None:
    """Add the search endpoint under both path families."""
    routing.add(bp, "objects", "/<object_type>/search", search_records, ["POST"])


def search_records(object_type: str):
    """Answer the records that match a search, one page at a time."""
    object_type = definitions.object_type(object_type)
    body = json_body()
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 0 and {MAX_LIMIT}.")
    after = str(body.get("after") or "0")
    if not after.isdigit():
        raise ApiError(400, f"{after} is not a valid 'after' value.")
    offset = int(after)
    if offset + limit > MAX_RESULTS:
        raise ApiError(
            400,
            f"A search can page through at most {MAX_RESULTS} results; narrow the "
            "filters, for example on hs_object_id greater than the last id seen.",
        )
    groups = body.get("filterGroups") or []
    _check_groups(groups)

    portal = state.portal()
    with state.tx() as conn:
        props = definitions.properties(conn, portal["id"], object_type)
        indexed_until = store.now(conn) - float(
            store.get_value(conn, "search_lag", "0")
        )
        found = [
            record
            for record in records.live(conn, portal["id"], object_type)
            if record["created_at"] <= indexed_until
            and _matches_any(record["properties"], groups, props)
            and _matches_query(record["properties"], body.get("query"), object_type)
        ]
        for name, descending in reversed(_sorts(body.get("sorts") or [])):
            found.sort(
                key=lambda record, n=name: _sort_key(record, n, props),
                reverse=descending,
            )
        page = found[offset : offset + limit]
        results = [shapes.show(conn, r, body.get("properties")) for r in page]
    answer: dict[str, Any] = {"total": len(found), "results": results}
    if offset + limit < len(found) and limit:
        answer["paging"] = {"next": {"after": str(offset + limit)}}

    return jsonify(answer)


def _check_groups(groups: Any) -> None:
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise ApiError(400, f"A search takes at most {MAX_GROUPS} filterGroups.")
    total = 0
    for group in groups:
        filters = (group or {}).get("filters")
        if not isinstance(filters, list):
            raise ApiError(400, "Each filter group needs a list of 'filters'.")
        total += len(filters)
        for item in filters:
            if item.get("operator") not in OPERATORS or not item.get("propertyName"):
                raise ApiError(
                    400,
                    f"Invalid filter {item!r}: each filter needs a 'propertyName' "
                    f"and an 'operator' among {', '.join(sorted(OPERATORS))}.",
                )
    if total > MAX_FILTERS:
        raise ApiError(400, f"A search takes at most {MAX_FILTERS} filters in all.")


def _sorts(raw: list) -> list[tuple[str, bool]]:
    sorts = []
    for item in raw:
        if isinstance(item, str):
            sorts.append((item.lstrip("-"), item.startswith("-")))
        else:
            descending = str(item.get("direction", "ASCENDING")).upper() == "DESCENDING"
            sorts.append((item.get("propertyName", "hs_object_id"), descending))

    return sorts or [("hs_object_id", False)]


def _typed(value: Any, definition: dict | None) -> Any:
    text = "" if value is None else str(value)
    kind = (definition or {}).get("type")
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    if kind in ("date", "datetime"):
        millis = values.to_millis(text)
        return text if millis is None else millis
    if kind == "enumeration" or kind == "bool":
        return text
    return text.lower()


def _sort_key(record: dict, name: str, props: dict) -> tuple:
    held = record["properties"].get(name)
    if held in (None, ""):
        return (1, 0, "")
    typed = _typed(held, props.get(name))

    return (0, typed, "") if isinstance(typed, float) else (0, 0, str(typed))


def _matches_any(held: dict, groups: list, props: dict) -> bool:
    if not groups:
        return True
    return any(
        all(_matches(held, item, props) for item in group["filters"])
        for group in groups
    )


def _matches(held: dict, item: dict, props: dict) -> bool:
    name = item["propertyName"]
    operator = item["operator"]
    definition = props.get(name)
    value = held.get(name)
    present = value not in (None, "")
    if operator == "HAS_PROPERTY":
        return present
    if operator == "NOT_HAS_PROPERTY":
        return not present
    if operator in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN") and not present:
        return True
    if not present:
        return False

    mine = _typed(value, definition)
    if operator in ("IN", "NOT_IN"):
        wanted = {_typed(v, definition) for v in item.get("values") or []}
        return (mine in wanted) == (operator == "IN")
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(item.get("value", "")).lower().strip("*")
        found = token in str(value).lower()
        return found == (operator == "CONTAINS_TOKEN")
    other = _typed(item.get("value"), definition)
    if operator == "BETWEEN":
        high = _typed(item.get("highValue"), definition)
        return _compare(other, mine) <= 0 <= _compare(high, mine)
    result = _compare(mine, other)

    return {
        "EQ": result == 0,
        "NEQ": result != 0,
        "LT": result < 0,
        "LTE": result <= 0,
        "GT": result > 0,
        "GTE": result >= 0,
    }[operator]


def _compare(left: Any, right: Any) -> int:
    if isinstance(left, float) != isinstance(right, float):
        left, right = str(left), str(right)
    return (left > right) - (left < right)


def _matches_query(held: dict, query: Any, object_type: str) -> bool:
    if not query:
        return True
    fields = {
        "contacts": ("firstname", "lastname", "email", "phone", "company"),
        "deals": ("dealname",),
    }[object_type]
    needle = str(query).lower()

    return any(needle in str(held.get(name) or "").lower() for name in fields)
