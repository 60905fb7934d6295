"""HubSpot's error answers, translated into the hub's exceptions.

Every message carries HubSpot's own message and correlation id, so an admin can quote
them to HubSpot's support, and says what to do about the problem.
"""

from __future__ import annotations

from typing import Any

import requests

from hub.errors import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    RemoteError,
    RemoteUnavailable,
    ValidationFailed,
)

#: Seconds HubSpot asks to wait after a 423 Locked.
LOCKED_WAIT = 2.0
#: The rolling window of HubSpot's burst limit, when the answer does not say.
DEFAULT_WINDOW = 10.0
#: The window of HubSpot's search limit, whose answers carry no headers.
SEARCH_WINDOW = 1.0


class ProvisionProblem(Exception):
    """A provisioning step cannot finish; the message tells the admin what to do."""


class ObjectNotFound(RemoteError):
    """HubSpot has no such object, or it was archived."""

    code = "remote_not_found"


class Conflict(RemoteError):
    """HubSpot already has an object with that name or unique value."""

    code = "remote_conflict"


def error_body(response: requests.Response) -> dict[str, Any]:
    """Return HubSpot's JSON error body, or an empty dictionary."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def describe(response: requests.Response) -> str:
    """Return HubSpot's message and correlation id as one sentence fragment."""
    body = error_body(response)
    message = str(body.get("message") or response.reason or "no message").rstrip(".")
    correlation = body.get("correlationId")
    if correlation:
        return f"{message} (correlation id {correlation})"
    return message


def retry_after(response: requests.Response) -> float:
    """Return how many seconds a 429 or 423 asks the client to wait."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(float(header), 0.0)
        except ValueError:
            pass
    if response.status_code == 423:
        return LOCKED_WAIT
    if str(error_body(response).get("policyName", "")).upper() == "SECONDLY":
        return SEARCH_WINDOW

    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return float(interval) / 1000 if interval else DEFAULT_WINDOW
    except ValueError:
        return DEFAULT_WINDOW


def translate(response: requests.Response, what: str) -> RemoteError:
    """Return the hub exception for a HubSpot error answer, keeping HubSpot's body.

    :param what: the call in plain words, such as ``"reading contact 51"``.
    """
    exc = _exception_for(response, what)
    exc.hubspot_body = error_body(response)

    return exc


def _exception_for(response: requests.Response, what: str) -> RemoteError:
    status = response.status_code
    body = error_body(response)
    detail = describe(response)
    common = {"remote_status": status}

    if status == 401:
        return AuthenticationFailed(
            f"HubSpot refused the access token while {what} (401): {detail}. "
            "Paste a new HubSpot access token (a Service Key or a private-app token) "
            "in the HubSpot settings.",
            **common,
        )
    if status == 403:
        return PermissionDenied(
            f"HubSpot refused {what} for lack of a scope or a subscription (403): "
            f"{detail}. Give the token the scope HubSpot names, or upgrade the portal.",
            **common,
        )
    if status == 404:
        return ObjectNotFound(
            f"HubSpot found nothing while {what}: {detail}.", **common
        )
    if status == 409:
        return Conflict(
            f"HubSpot reported a conflict while {what}: {detail}.", **common
        )
    if status == 429:
        daily = str(body.get("policyName", "")).upper() == "DAILY"
        if daily:
            return RateLimited(
                f"The HubSpot portal used up its daily API limit while {what}: "
                f"{detail}. The sync resumes after midnight in the portal's time zone.",
                **common,
                retryable=True,
                retry_after=3600.0,
            )
        return RateLimited(
            f"HubSpot asked the hub to slow down while {what}: {detail}.",
            **common,
            retryable=True,
            retry_after=retry_after(response),
        )
    if status == 423:
        return RemoteUnavailable(
            f"HubSpot had the record locked while {what}: {detail}.",
            **common,
            retryable=True,
            retry_after=retry_after(response),
        )
    if status >= 500:
        return RemoteUnavailable(
            f"HubSpot failed while {what} ({status}): {detail}. The hub tries again.",
            **common,
            retryable=True,
        )
    if status == 400 and body.get("category") == "VALIDATION_ERROR":
        return ValidationFailed(
            f"HubSpot refused the data while {what}: {detail}.", **common
        )

    return RemoteError(f"HubSpot refused {what} ({status}): {detail}.", **common)


def from_batch_error(error: dict[str, Any], what: str) -> RemoteError:
    """Return the hub exception for one failed input of a 207 batch answer."""
    category = error.get("category")
    message = str(error.get("message") or "no message").rstrip(".")
    kinds = {
        "VALIDATION_ERROR": (ValidationFailed, 400),
        "CONFLICT": (Conflict, 409),
        "OBJECT_NOT_FOUND": (ObjectNotFound, 404),
    }
    kind, status = kinds.get(category, (RemoteError, 400))
    exc = kind(
        f"HubSpot refused part of a batch while {what}: {message}.",
        remote_status=status,
    )
    exc.hubspot_body = {"message": message, "category": category, "errors": [error]}

    return exc


def body_of(exc: BaseException) -> dict[str, Any]:
    """Return the HubSpot error body an exception was made from, or an empty one."""
    return getattr(exc, "hubspot_body", None) or {}
