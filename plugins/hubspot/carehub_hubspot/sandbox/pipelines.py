"""The pipelines API: pipelines and their stages, with HubSpot's checks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from carehub_hubspot.sandbox import (
    accounts,
    definitions,
    records,
    routing,
    seed,
    state,
    store,
)
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.payload import json_body


def register(bp: Blueprint) -> None:
    """Add the pipelines endpoints under both path families."""
    add = routing.add
    add(bp, "pipelines", "/<object_type>", list_pipelines, ["GET"])
    add(bp, "pipelines", "/<object_type>", create_pipeline, ["POST"])
    add(bp, "pipelines", "/<object_type>/<pipeline_id>", read_pipeline, ["GET"])
    add(bp, "pipelines", "/<object_type>/<pipeline_id>", replace_pipeline, ["PUT"])
    add(bp, "pipelines", "/<object_type>/<pipeline_id>", update_pipeline, ["PATCH"])
    add(bp, "pipelines", "/<object_type>/<pipeline_id>", delete_pipeline, ["DELETE"])
    add(bp, "pipelines", "/<object_type>/<pipeline_id>/stages", list_stages, ["GET"])
    add(bp, "pipelines", "/<object_type>/<pipeline_id>/stages", create_stage, ["POST"])
    rule = "/<object_type>/<pipeline_id>/stages/<stage_id>"
    add(bp, "pipelines", rule, read_stage, ["GET"])
    add(bp, "pipelines", rule, update_stage, ["PATCH"])
    add(bp, "pipelines", rule, update_stage, ["PUT"])
    add(bp, "pipelines", rule, delete_stage, ["DELETE"])


def _deals_only(raw: str) -> str:
    object_type = definitions.object_type(raw)
    if object_type != "deals":
        raise ApiError(400, f"Pipelines are not available for {raw} in this sandbox.")

    return object_type


def _load(conn, pipeline_id: str) -> dict:
    found = definitions.get(
        conn, state.portal()["id"], "pipeline", "deals", pipeline_id
    )
    if found is None:
        raise ApiError(404, f"Unable to find pipeline {pipeline_id}.")

    return found


def _save(conn, pipeline: dict) -> None:
    pipeline["updatedAt"] = store.iso(store.now(conn))
    definitions.put(
        conn, state.portal()["id"], "pipeline", "deals", pipeline["id"], pipeline
    )


def _deals_in(conn, pipeline_id: str, stage_id: str | None = None) -> int:
    return sum(
        1
        for record in records.live(conn, state.portal()["id"], "deals")
        if record["properties"].get("pipeline") == pipeline_id
        and (stage_id is None or record["properties"].get("dealstage") == stage_id)
    )


def _stage(conn, raw: Any, order: int, stamp: str) -> dict:
    if not isinstance(raw, dict):
        raise ApiError(400, "Each stage must be a JSON object.")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ApiError(400, "Each stage needs a 'label'.")
    if not isinstance(raw.get("displayOrder", order), int):
        raise ApiError(400, "A stage's 'displayOrder' must be a whole number.")
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict) or "probability" not in metadata:
        raise ApiError(
            400,
            f"Deal stage {label!r} needs metadata.probability, a string from "
            '"0.0" to "1.0" (1.0 closed won, 0.0 closed lost).',
        )
    probability = str(metadata["probability"])
    try:
        chance = float(probability)
    except ValueError:
        chance = -1.0
    if not 0.0 <= chance <= 1.0:
        raise ApiError(
            400,
            f"Deal stage {label!r} has probability {probability!r}; use a value from "
            '"0.0" to "1.0".',
        )
    stage_id = raw.get("id") or str(store.next_id(conn, "stage", 1_000_000))
    metadata = {**metadata, **seed.deal_stage_metadata(probability)}

    return seed.stage_body(
        stage_id, label, raw.get("displayOrder", order), metadata, stamp
    )


def _stages(conn, raw: Any, stamp: str) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "A pipeline needs at least one stage in 'stages'.")
    stages = [_stage(conn, item, order, stamp) for order, item in enumerate(raw)]
    _unique_labels(stages)

    return stages


def _unique_labels(stages: list[dict]) -> None:
    seen = set()
    for stage in stages:
        key = stage["label"].strip().lower()
        if key in seen:
            raise ApiError(
                400,
                f"Stage labels must be unique in a pipeline; {stage['label']!r} "
                "appears twice.",
            )
        seen.add(key)


def list_pipelines(object_type: str):
    """Answer every pipeline of an object type."""
    _deals_only(object_type)
    with state.tx() as conn:
        found = definitions.all_of(conn, state.portal()["id"], "pipeline", "deals")

    return jsonify({"results": sorted(found, key=lambda p: p["displayOrder"])})


def read_pipeline(object_type: str, pipeline_id: str):
    """Answer one pipeline with its stages."""
    _deals_only(object_type)
    with state.tx() as conn:
        return jsonify(_load(conn, pipeline_id))


def create_pipeline(object_type: str):
    """Create a pipeline; HubSpot generates its id and its stages' ids."""
    _deals_only(object_type)
    body = json_body()
    portal = state.portal()
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ApiError(400, "A pipeline needs a 'label'.")
    if not isinstance(body.get("displayOrder"), int):
        raise ApiError(400, "A pipeline needs a whole-number 'displayOrder'.")
    with state.tx() as conn:
        existing = definitions.all_of(conn, portal["id"], "pipeline", "deals")
        allowed = accounts.PIPELINE_LIMITS[portal["tier"]]
        if len(existing) >= allowed:
            raise ApiError(
                403,
                f"This account's {portal['tier']} tier allows {allowed} deal "
                "pipeline(s), and it has them all; upgrade Sales Hub or reuse an "
                "existing pipeline.",
                category="PIPELINE_LIMIT_REACHED",
            )
        if any(p["label"].strip().lower() == label.strip().lower() for p in existing):
            raise ApiError(409, f"A pipeline labelled {label!r} already exists.")
        stamp = store.iso(store.now(conn))
        pipeline = {
            "label": label,
            "displayOrder": body["displayOrder"],
            "id": str(store.next_id(conn, "pipeline", 100_000_000)),
            "stages": _stages(conn, body.get("stages"), stamp),
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        for stage in pipeline["stages"]:
            stage["id"] = str(store.next_id(conn, "stage", 1_000_000))
        _save(conn, pipeline)

    return jsonify(pipeline), 201


def replace_pipeline(object_type: str, pipeline_id: str):
    """Replace a pipeline's label, order and stages; stages keep ids they name."""
    _deals_only(object_type)
    body = json_body()
    with state.tx() as conn:
        pipeline = _load(conn, pipeline_id)
        stamp = store.iso(store.now(conn))
        stages = _stages(conn, body.get("stages"), stamp)
        kept = {stage["id"] for stage in stages}
        for old in pipeline["stages"]:
            if old["id"] not in kept and _deals_in(conn, pipeline_id, old["id"]):
                raise _stage_in_use(old["id"])
        pipeline.update(
            label=body.get("label", pipeline["label"]),
            displayOrder=body.get("displayOrder", pipeline["displayOrder"]),
            stages=stages,
        )
        _save(conn, pipeline)

    return jsonify(pipeline)


def update_pipeline(object_type: str, pipeline_id: str):
    """Change a pipeline's label or display order."""
    _deals_only(object_type)
    body = json_body()
    with state.tx() as conn:
        pipeline = _load(conn, pipeline_id)
        pipeline.update({k: body[k] for k in ("label", "displayOrder") if k in body})
        _save(conn, pipeline)

    return jsonify(pipeline)


def delete_pipeline(object_type: str, pipeline_id: str):
    """Delete a pipeline that holds no deals; answer 204."""
    _deals_only(object_type)
    with state.tx() as conn:
        _load(conn, pipeline_id)
        count = _deals_in(conn, pipeline_id)
        if count:
            raise ApiError(
                400,
                f"Pipeline {pipeline_id} holds {count} deal(s); move them to another "
                "pipeline before deleting it.",
            )
        definitions.remove(conn, state.portal()["id"], "pipeline", "deals", pipeline_id)

    return "", 204


def list_stages(object_type: str, pipeline_id: str):
    """Answer the stages of a pipeline."""
    _deals_only(object_type)
    with state.tx() as conn:
        return jsonify({"results": _load(conn, pipeline_id)["stages"]})


def read_stage(object_type: str, pipeline_id: str, stage_id: str):
    """Answer one stage."""
    _deals_only(object_type)
    with state.tx() as conn:
        return jsonify(_find_stage(_load(conn, pipeline_id), stage_id))


def create_stage(object_type: str, pipeline_id: str):
    """Add a stage to a pipeline; HubSpot generates its id."""
    _deals_only(object_type)
    body = json_body()
    body.pop("id", None)
    with state.tx() as conn:
        pipeline = _load(conn, pipeline_id)
        stamp = store.iso(store.now(conn))
        stage = _stage(conn, body, len(pipeline["stages"]), stamp)
        _unique_labels([*pipeline["stages"], stage])
        pipeline["stages"].append(stage)
        _save(conn, pipeline)

    return jsonify(stage), 201


def update_stage(object_type: str, pipeline_id: str, stage_id: str):
    """Change a stage's label, order or metadata."""
    _deals_only(object_type)
    body = json_body()
    with state.tx() as conn:
        pipeline = _load(conn, pipeline_id)
        stage = _find_stage(pipeline, stage_id)
        merged = {
            **stage,
            **{k: body[k] for k in ("label", "displayOrder") if k in body},
        }
        merged["metadata"] = {**stage["metadata"], **(body.get("metadata") or {})}
        updated = _stage(conn, merged, stage["displayOrder"], stage["createdAt"])
        updated["updatedAt"] = store.iso(store.now(conn))
        pipeline["stages"] = [
            updated if s["id"] == stage_id else s for s in pipeline["stages"]
        ]
        _unique_labels(pipeline["stages"])
        _save(conn, pipeline)

    return jsonify(updated)


def delete_stage(object_type: str, pipeline_id: str, stage_id: str):
    """Delete a stage that holds no deals; answer 204."""
    _deals_only(object_type)
    with state.tx() as conn:
        pipeline = _load(conn, pipeline_id)
        _find_stage(pipeline, stage_id)
        if _deals_in(conn, pipeline_id, stage_id):
            raise _stage_in_use(stage_id)
        pipeline["stages"] = [s for s in pipeline["stages"] if s["id"] != stage_id]
        _save(conn, pipeline)

    return "", 204


def _find_stage(pipeline: dict, stage_id: str) -> dict:
    for stage in pipeline["stages"]:
        if stage["id"] == stage_id:
            return stage
    raise ApiError(
        404, f"Unable to find stage {stage_id} in pipeline {pipeline['id']}."
    )


def _stage_in_use(stage_id: str) -> ApiError:
    return ApiError(
        400,
        f"Stage {stage_id} still holds deals; move them to another stage before "
        "deleting it.",
    )
