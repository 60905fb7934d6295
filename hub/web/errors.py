"""One error handler for the whole app: JSON for machines, a page for people."""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from hub.errors import HubError, StorageUnavailable

log = logging.getLogger(__name__)

#: Paths whose callers are programs, answered in JSON.
MACHINE_PREFIXES = ("/hooks/", "/api/", "/_sandbox/", "/healthz", "/readyz")


def wants_json() -> bool:
    """Return whether the request came from a program rather than a browser."""
    return request.path.startswith(MACHINE_PREFIXES) or (
        request.accept_mimetypes.best == "application/json"
    )


def render_error(status: int, code: str, message: str, headers=None):
    """Return the error as JSON or as a page, as the caller expects."""
    if wants_json():
        response = jsonify(error=code, message=message)
    else:
        response = render_template(
            "error.html", status=status, code=code, message=message
        )
    return response, status, headers or {}


def handle_hub_error(exc: HubError):
    headers = {"Retry-After": "30"} if isinstance(exc, StorageUnavailable) else {}
    if exc.status >= 500 and not isinstance(exc, StorageUnavailable):
        log.error("%s on %s %s: %s", exc.code, request.method, request.path, exc)
    return render_error(exc.status, exc.code, exc.message, headers)


def handle_http_exception(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    return render_error(exc.code or 500, code, exc.description or exc.name)


def handle_unexpected(exc: Exception):
    log.exception("Unexpected error on %s %s", request.method, request.path)
    return render_error(
        500,
        "internal_error",
        "The hub failed unexpectedly; the error is in its log. Try again later.",
    )


def init_app(app) -> None:
    """Register the error handlers on an app."""
    app.register_error_handler(HubError, handle_hub_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
