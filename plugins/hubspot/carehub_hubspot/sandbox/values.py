"""Property values: checked against their definitions and kept as strings."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from carehub_hubspot.sandbox import definitions, store
from carehub_hubspot.sandbox.errors import ApiError


def check(
    conn: sa.Connection,
    portal_id: int,
    object_type: str,
    props: dict[str, dict],
    given: dict[str, Any],
    record: dict | None,
) -> dict[str, str]:
    """Return the given values as HubSpot stores them, or raise its 400.

    :param record: the record being updated, or None on create.
    """
    clean: dict[str, str] = {}
    problems = []
    for name, raw in given.items():
        definition = props.get(name)
        if definition is None:
            problems.append(
                problem(
                    name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
                )
            )
            continue
        if definition["modificationMetadata"].get("readOnlyValue"):
            problems.append(
                problem(
                    name,
                    "READ_ONLY_VALUE",
                    f'"{name}" is a read only property; its value cannot be set.',
                )
            )
            continue
        try:
            clean[name] = normalize(definition, raw)
        except ValueError as exc:
            problems.append(problem(name, exc.args[1], exc.args[0]))
    if problems:
        raise invalid_values(problems)

    return clean


def invalid_values(problems: list[dict]) -> ApiError:
    """Return HubSpot's 400 for property values that were not valid."""
    return ApiError(
        400,
        "Property values were not valid: "
        + json.dumps(problems, separators=(",", ":")),
        errors=[
            {
                "message": item["message"],
                "code": item["error"],
                "context": {"propertyName": [item["name"]]},
            }
            for item in problems
        ],
    )


def normalize(definition: dict, raw: Any) -> str:
    """Return a value as the string HubSpot keeps for a property's type.

    :raises ValueError: ``(message, error code)`` when the value does not fit.
    """
    if raw is None:
        return ""
    type_ = definition["type"]
    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    if text == "":
        return ""
    if type_ == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(
                f"{text} was not a valid number.", "INVALID_LONG"
            ) from None
        if math.isnan(number) or math.isinf(number):
            raise ValueError(f"{text} was not a valid number.", "INVALID_LONG")
        return str(int(number)) if number.is_integer() and "e" not in text else text
    if type_ == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{text} is not a valid boolean.", "INVALID_BOOLEAN")
        return text.lower()
    if type_ == "enumeration":
        allowed = {option["value"] for option in definition.get("options", [])}
        chosen = text.split(";") if definition["fieldType"] == "checkbox" else [text]
        for value in chosen:
            if value not in allowed:
                raise ValueError(
                    f"{value} was not one of the allowed options: "
                    + ", ".join(sorted(allowed)),
                    "INVALID_OPTION",
                )
        return text
    if type_ == "date":
        moment = _moment(text)
        if moment is None or (moment.hour, moment.minute, moment.second) != (0, 0, 0):
            raise ValueError(
                f"{text} is not a valid date: use midnight UTC in milliseconds or "
                "YYYY-MM-DD.",
                "INVALID_DATE",
            )
        return moment.date().isoformat()
    if type_ == "datetime":
        moment = _moment(text)
        if moment is None:
            raise ValueError(f"{text} is not a valid datetime.", "INVALID_DATETIME")
        return store.iso(moment.timestamp())

    return text


def to_millis(text: str) -> float | None:
    """Return a date or datetime value (ISO or epoch ms) in epoch ms, or None."""
    moment = _moment(text)
    return None if moment is None else moment.timestamp() * 1000


def place_deal(
    conn: sa.Connection, portal_id: int, clean: dict, current: dict | None
) -> None:
    """Fill and check a deal's pipeline and stage, as HubSpot does."""
    pipeline_id = clean.get("pipeline") or (current or {}).get("pipeline") or "default"
    pipeline = definitions.get(conn, portal_id, "pipeline", "deals", pipeline_id)
    if pipeline is None:
        raise invalid_values(
            [
                problem(
                    "pipeline",
                    "INVALID_OPTION",
                    f"{pipeline_id} is not a valid pipeline.",
                )
            ]
        )
    stage_ids = [stage["id"] for stage in pipeline["stages"]]
    stage = clean.get("dealstage") or (current or {}).get("dealstage")
    if current is None and not stage and stage_ids:
        stage = stage_ids[0]
    if stage and stage not in stage_ids:
        raise invalid_values(
            [
                problem(
                    "dealstage",
                    "INVALID_OPTION",
                    f"{stage} is not a valid deal stage of pipeline {pipeline_id}: "
                    "use one of " + ", ".join(stage_ids),
                )
            ]
        )
    if current is None or "pipeline" in clean or "dealstage" in clean:
        clean["pipeline"] = pipeline_id
        if stage:
            clean["dealstage"] = stage


def _moment(text: str) -> datetime | None:
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def problem(name: str, error: str, message: str) -> dict[str, Any]:
    """Return one entry of HubSpot's list of invalid property values."""
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }
