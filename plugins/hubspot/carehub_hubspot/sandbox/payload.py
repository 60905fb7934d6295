"""Request bodies as HubSpot reads them, and the answers its batch endpoints give."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from carehub_hubspot.sandbox.errors import ApiError

BATCH_LIMIT = 100


def json_body() -> dict[str, Any]:
    """Return the request's JSON object, or raise HubSpot's 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid input JSON: send a JSON object as the body.")

    return body


def batch_inputs(body: dict) -> list:
    """Return a batch body's inputs, or raise HubSpot's 400."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError(400, "Invalid input JSON: 'inputs' must be a list.")
    if len(inputs) > BATCH_LIMIT:
        raise ApiError(
            400,
            f"Batch input size {len(inputs)} exceeds the limit of {BATCH_LIMIT}; "
            "split the inputs into several calls.",
        )

    return inputs


def batch_answer(started: str, results: list, errors: list, ok_status: int):
    """Return a batch answer: ``ok_status``, or 207 with the inputs that failed."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": started,
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return jsonify(body), 207

    return jsonify(body), ok_status
