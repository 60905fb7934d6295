"""HubSpot's error answers: one body shape for every error the sandbox gives."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    415: "UNSUPPORTED_MEDIA_TYPE",
    423: "LOCKED",
    429: "RATE_LIMITS",
}


class ApiError(Exception):
    """An error HubSpot would answer, with its status, category and message."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category or CATEGORIES.get(status, "INTERNAL_ERROR")
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """Return HubSpot's error body for this error."""
        body = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            **self.extra,
        }
        if self.category is not None:
            body["category"] = self.category

        return body


def correlation_id() -> str:
    """Return a fresh correlation id, as HubSpot puts in every error."""
    return str(uuid.uuid4())


def not_found(message: str = "Resource not found.", **extra: Any) -> ApiError:
    """Return HubSpot's 404."""
    return ApiError(404, message, **extra)


def invalid(message: str, **extra: Any) -> ApiError:
    """Return HubSpot's 400 ``VALIDATION_ERROR``."""
    return ApiError(400, message, **extra)


def rate_limited(policy: str, headers: dict[str, str] | None = None) -> ApiError:
    """Return HubSpot's 429 for a rolling or daily limit."""
    names = {
        "TEN_SECONDLY_ROLLING": "ten_secondly_rolling",
        "SECONDLY": "secondly",
        "DAILY": "daily",
    }
    error = ApiError(
        429,
        f"You have reached your {names[policy]} limit.",
        headers=headers,
        errorType="RATE_LIMIT",
        policyName=policy,
    )
    # HubSpot's 429 body names the policy instead of a category.
    error.category = None

    return error


def respond(error: ApiError):
    """Return the Flask answer for an :class:`ApiError`."""
    response = jsonify(error.body())
    response.status_code = error.status
    response.headers.update(error.headers)

    return response


def handle_http_exception(exc: HTTPException):
    """Answer Werkzeug's errors (bad JSON, wrong method) with HubSpot's body."""
    status = exc.code or 500
    if status == 400:
        message = "Invalid input JSON on line 1: the body could not be parsed."
    else:
        message = exc.description or exc.name
    return respond(ApiError(status, message))


def handle_unexpected(exc: Exception):
    """Answer an unexpected failure as HubSpot's 500, and log it."""
    log.exception("The HubSpot sandbox failed unexpectedly")
    return respond(ApiError(500, "internal error", category="INTERNAL_ERROR"))
