"""The deal pipeline ``ClearCare_Sales_Pipeline``: made once, repaired when it drifts.

Its 12 stages carry the prospect statuses' labels in their order. Repair restores
labels, order and which stages are closed, but leaves the probabilities of open
stages alone, since an admin may tune them.
"""

from __future__ import annotations

from carehub_hubspot import paths
from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.errors import ProvisionProblem, body_of
from hub.canonical import ProspectStatus
from hub.errors import PermissionDenied, RemoteError

PIPELINE_LABEL = "ClearCare_Sales_Pipeline"


def probability(status: ProspectStatus) -> str:
    """Return a status's default win probability: 1 won, 0 lost, rising between."""
    if status == ProspectStatus.CLOSED_WON:
        return "1.0"
    if status == ProspectStatus.CLOSED_LOST:
        return "0.0"
    open_count = len(ProspectStatus) - 2
    return f"{(status.position + 1) / (open_count + 1):.2f}"


def outcome(metadata: dict | None) -> str | None:
    """Return ``"won"``, ``"lost"`` or None (open) for a stage's metadata."""
    metadata = metadata or {}
    if str(metadata.get("isClosed", "")).lower() == "false":
        return None
    try:
        value = float(metadata.get("probability"))
    except (TypeError, ValueError):
        return None
    if value == 1.0:
        return "won"
    if value == 0.0:
        return "lost"
    return None


def wanted_outcome(status: ProspectStatus) -> str | None:
    """Return how a status's stage should be closed, or None for an open one."""
    return {ProspectStatus.CLOSED_WON: "won", ProspectStatus.CLOSED_LOST: "lost"}.get(
        status
    )


def stage_body(status: ProspectStatus) -> dict:
    """Return the body that creates a status's stage."""
    return {
        "label": status.label,
        "displayOrder": status.position,
        "metadata": {"probability": probability(status)},
    }


def ensure_pipeline(client: HubSpotClient, connection) -> str:
    """Make or repair the pipeline, store its ids; return what was done, in words.

    :raises ProvisionProblem: when the portal cannot have the pipeline.
    """
    listed = client.get(
        paths.path("pipelines", object_type=paths.DEALS), what="listing deal pipelines"
    )
    pipelines = [p for p in (listed or {}).get("results", []) if not p.get("archived")]
    state = connection.state or {}
    pipeline = _find(pipelines, state.get("pipeline_id"))

    if pipeline is None:
        pipeline = _create(client, pipelines)
        done = [f"Created {PIPELINE_LABEL} with its 12 stages"]
    else:
        done = _repair(client, pipeline, state.get("stage_ids") or {})

    stage_ids = {
        status.name: _match(pipeline["stages"], status, {})["id"]
        for status in ProspectStatus
    }
    connection.update_state(pipeline_id=str(pipeline["id"]), stage_ids=stage_ids)
    if not done:
        return f"{PIPELINE_LABEL} and its 12 stages are as they should be."

    return "; ".join(done) + "."


def _find(pipelines: list[dict], stored_id: str | None) -> dict | None:
    if stored_id:
        for pipeline in pipelines:
            if str(pipeline.get("id")) == str(stored_id):
                return pipeline
    for pipeline in pipelines:
        if pipeline.get("label", "").strip().casefold() == PIPELINE_LABEL.casefold():
            return pipeline
    return None


def _find_by_label(client: HubSpotClient) -> dict | None:
    listed = client.get(
        paths.path("pipelines", object_type=paths.DEALS), what="listing deal pipelines"
    )
    return _find((listed or {}).get("results", []), None)


def _create(client: HubSpotClient, pipelines: list[dict]) -> dict:
    body = {
        "label": PIPELINE_LABEL,
        "displayOrder": len(pipelines),
        "stages": [stage_body(status) for status in ProspectStatus],
    }
    try:
        return client.create(
            paths.path("pipelines", object_type=paths.DEALS),
            body,
            what=f"creating the deal pipeline {PIPELINE_LABEL}",
            find=lambda: _find_by_label(client),
        )
    except RemoteError as exc:
        if pipelines and exc.remote_status in (400, 403) and not _is_scope(exc):
            raise ProvisionProblem(
                "This HubSpot portal's subscription allows no more deal pipelines "
                f"(it has {len(pipelines)}; HubSpot Free allows one), so "
                f"{PIPELINE_LABEL} cannot be added. "
                "Upgrade to Sales Hub Starter or above, or delete an unused deal "
                f"pipeline, then provision again. HubSpot said: {exc.message}"
            ) from exc
        raise


def _is_scope(exc: RemoteError) -> bool:
    body = body_of(exc)
    said = f"{body.get('category', '')} {body.get('message', '')}".lower()
    return isinstance(exc, PermissionDenied) and "scope" in said


def _match(stages: list[dict], status: ProspectStatus, stored: dict) -> dict | None:
    live = [s for s in stages if not s.get("archived")]
    stored_id = stored.get(status.name)
    if stored_id:
        for stage in live:
            if str(stage.get("id")) == str(stored_id):
                return stage
    wanted = status.label.casefold()
    for stage in live:
        if stage.get("label", "").strip().casefold() == wanted:
            return stage
    return None


def _repair(client: HubSpotClient, pipeline: dict, stored: dict) -> list[str]:
    """Put the pipeline back as provisioned; return the repairs made, in words."""
    done = []
    pipeline_id = str(pipeline["id"])
    if pipeline.get("label") != PIPELINE_LABEL:
        client.request(
            "PATCH",
            paths.path("pipeline", object_type=paths.DEALS, pipeline_id=pipeline_id),
            json={"label": PIPELINE_LABEL},
            what=f"renaming pipeline {pipeline_id}",
        )
        pipeline["label"] = PIPELINE_LABEL
        done.append(f"Renamed the pipeline back to {PIPELINE_LABEL}")

    stages = list(pipeline.get("stages") or [])
    for status in ProspectStatus:
        stage = _match(stages, status, stored)
        if stage is None:
            created = client.create(
                paths.path("stages", object_type=paths.DEALS, pipeline_id=pipeline_id),
                stage_body(status),
                what=f"adding the stage {status.label}",
                find=lambda s=status: _refetch_stage(client, pipeline_id, s),
            )
            stages.append(created)
            done.append(f"Restored the missing stage {status.label}")
            continue

        fix = _stage_fix(stage, status)
        if fix:
            stage_id = str(stage["id"])
            updated = client.request(
                "PATCH",
                paths.path(
                    "stage",
                    object_type=paths.DEALS,
                    pipeline_id=pipeline_id,
                    stage_id=stage_id,
                ),
                json=fix,
                what=f"repairing the stage {status.label}",
            )
            stage.update(updated or fix)
            done.append(f"Repaired the stage {status.label} ({', '.join(fix)})")

    pipeline["stages"] = stages
    return done


def _stage_fix(stage: dict, status: ProspectStatus) -> dict:
    fix: dict = {}
    if stage.get("label") != status.label:
        fix["label"] = status.label
    if stage.get("displayOrder") != status.position:
        fix["displayOrder"] = status.position
    if outcome(stage.get("metadata")) != wanted_outcome(status):
        fix["metadata"] = {"probability": probability(status)}
    return fix


def _refetch_stage(client: HubSpotClient, pipeline_id: str, status: ProspectStatus):
    path = paths.path("stages", object_type=paths.DEALS, pipeline_id=pipeline_id)
    stages = (client.get(path, what="listing pipeline stages") or {}).get("results", [])
    return _match(stages, status, {})
