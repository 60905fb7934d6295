"""The hub's exceptions, rooted in :class:`HubError`.

Each error has an HTTP ``status`` and a message written for the person who has to
fix it. Connectors translate their vendor's errors into these at their client.
"""

from __future__ import annotations

from collections.abc import Callable


class HubError(Exception):
    """Something the hub cannot do, with a message that says how to fix it."""

    status = 500
    #: A short machine-readable code for API answers.
    code = "hub_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, str]:
        """Return the error as the JSON body of an answer."""
        return {"error": self.code, "message": self.message}


class ConfigurationError(HubError):
    """The hub's own configuration is unsafe or incomplete."""

    code = "configuration"


class PluginError(HubError):
    """A connector plugin cannot be loaded or misbehaves."""

    code = "plugin"


class NotFound(HubError):
    """What was asked for does not exist, or is not the asker's to see."""

    status = 404
    code = "not_found"


class BadRequest(HubError):
    """A request that can never succeed as sent."""

    status = 400
    code = "bad_request"


class MalformedEvent(BadRequest):
    """A webhook's body or query cannot be parsed into a change."""

    code = "malformed_event"


class VerificationFailed(HubError):
    """A webhook's signature, secret header or timestamp does not check out."""

    status = 401
    code = "verification_failed"


class PayloadTooLarge(HubError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(HubError):
    status = 415
    code = "unsupported_media_type"


class StorageUnavailable(HubError):
    """The database cannot take the write right now; the sender should retry."""

    status = 503
    code = "storage_unavailable"


class RemoteError(HubError):
    """A remote system refused or failed a call; ``retryable`` says whether to retry.

    :param retry_after: seconds to wait before trying again, when the remote said.
    """

    status = 502
    code = "remote_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        remote_status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.remote_status = remote_status
        self.retryable = retryable
        self.retry_after = retry_after


class AuthenticationFailed(RemoteError):
    """The remote refused the connection's credentials."""

    code = "authentication_failed"


class PermissionDenied(RemoteError):
    """The credentials work but lack a scope or a tier the call needs."""

    code = "permission_denied"


class RateLimited(RemoteError):
    """The remote said to slow down; retry after ``retry_after`` seconds."""

    code = "rate_limited"


class RemoteUnavailable(RemoteError):
    """The remote could not be reached or answered with a server error."""

    code = "remote_unavailable"


class ValidationFailed(RemoteError):
    """The remote refused the data; the message names the fields to fix."""

    code = "validation_failed"


class NeedsAttention(HubError):
    """A change cannot go through until a person fixes something; never retried."""

    status = 422
    code = "needs_attention"


class Deferred(HubError):
    """Other work on the same person is under way; the event runs again after
    ``retry_after`` seconds without using a try."""

    status = 503
    code = "deferred"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        still_waiting: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        #: Asked once the wait is recorded; ``False`` when what the event waited
        #: for ended meanwhile (while nobody could see the event was waiting), so it
        #: runs at once after all.
        self.still_waiting = still_waiting
