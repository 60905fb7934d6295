"""Reading ClearCare's answers: its error messages, and the hub's error for each
status it gives."""

from __future__ import annotations

import requests

from hub.errors import (
    AuthenticationFailed,
    HubError,
    NotFound,
    PermissionDenied,
    RateLimited,
    RemoteError,
    RemoteUnavailable,
    ValidationFailed,
)


def vendor_message(response: requests.Response) -> str:
    """Return the message in an error answer, whatever key wraps it."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "Message", "error_description", "error", "detail"):
            if isinstance(data.get(key), str) and data[key].strip():
                return data[key].strip()
        issues = data.get("issue") or data.get("errors")
        if isinstance(issues, list) and issues:
            return "; ".join(str(i.get("diagnostics", i)) for i in issues)
    text = response.text.strip()
    if text.startswith("<"):
        return "an HTML error page"
    return text[:300] or "no message"


def refusal(response: requests.Response, operation: str, agency_id: str) -> HubError:
    """Return the hub's error for a ClearCare answer that is not a success."""
    status = response.status_code
    detail = vendor_message(response)
    where = f"for agency {agency_id}"
    if status == 401:
        return AuthenticationFailed(
            f"ClearCare refused a fresh token for {operation} {where} (401). "
            "Check the client id and secret in the ClearCare settings.",
            remote_status=status,
        )
    if status == 403:
        return PermissionDenied(
            f"ClearCare refused the path or the permission for {operation} "
            f"{where} (403). Ask WellSky support to allow it for these "
            "credentials.",
            remote_status=status,
        )
    if status == 404:
        return NotFound(f"ClearCare found nothing for {operation} {where}.")
    if status == 422 or status == 400:
        return ValidationFailed(
            f"ClearCare refused {operation} {where}: {detail}",
            remote_status=status,
        )
    if status == 429:
        retry_after = _seconds(response.headers.get("Retry-After"))
        return RateLimited(
            f"ClearCare asked the hub to slow down while {operation} {where}.",
            remote_status=status,
            retryable=True,
            retry_after=retry_after,
        )
    if status >= 500:
        return RemoteUnavailable(
            f"ClearCare failed while {operation} {where} ({status}, {detail}); "
            "the hub will try again later.",
            remote_status=status,
            retryable=True,
        )
    return RemoteError(
        f"ClearCare answered {status} to {operation} {where}: {detail}",
        remote_status=status,
    )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
