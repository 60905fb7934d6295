"""Prospect statuses and the deal stages of the provisioned pipeline, both ways."""

from __future__ import annotations

from typing import Any

from hub.canonical import Direction, ProspectStatus


def stage_ids(connection) -> dict[ProspectStatus, str]:
    """Return the stage id of each status: provisioned, or as the agency overrode it."""
    stored = (connection.state or {}).get("stage_ids") or {}
    ids = {}
    for status in ProspectStatus:
        if stored.get(status.name):
            ids[status] = str(stored[status.name])

    agency = getattr(connection, "agency", None)
    overrides = (agency.status_overrides if agency is not None else {}).get("hubspot")
    for label, stage_id in (overrides or {}).items():
        try:
            ids[ProspectStatus.from_label(label)] = str(stage_id)
        except ValueError:
            continue

    return ids


def to_native(connection, status: ProspectStatus | str) -> str | None:
    """Return the deal stage id of a status, or None before provisioning."""
    if not isinstance(status, ProspectStatus):
        status = ProspectStatus.from_label(str(status))
    return stage_ids(connection).get(status)


def from_native(connection, stage_id: Any) -> ProspectStatus | None:
    """Return the status a deal stage stands for, or None for a stage not ours."""
    if stage_id is None:
        return None
    for status, known in stage_ids(connection).items():
        if known == str(stage_id):
            return status
    return None


def map_status(connection, status: Any, direction: Direction) -> Any:
    """Translate a status either way, as the ``map_status`` hook asks."""
    if Direction(direction) == Direction.TO_NATIVE:
        return to_native(connection, status)
    return from_native(connection, status)
