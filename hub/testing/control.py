"""A client for the control API every sandbox serves under ``<sandbox>/_control/``."""

from __future__ import annotations

from typing import Any

import requests


class ControlError(AssertionError):
    """A sandbox refused a control call; the message carries its answer."""


class SandboxControl:
    """Drives one sandbox's control API over HTTP.

    :param base_url: the sandbox's root, such as
        ``http://127.0.0.1:5001/_sandbox/hubspot``.
    :param session: a ``requests.Session``, or anything with its ``request`` method
        (a Flask test client wrapped by :class:`FlaskClientSession` works too).
    """

    def __init__(self, base_url: str, session: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    def _call(self, method: str, verb: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/_control/{verb}"
        response = self.session.request(method, url, timeout=30, **kwargs)
        if response.status_code >= 300:
            raise ControlError(
                f"{method} {url} answered {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None

    def reset(self) -> None:
        """Empty the sandbox."""
        self._call("POST", "reset", json={})

    def create_account(self, name: str, tier: str | None = None, **extra: Any) -> dict:
        """Create an account; return the credentials a connection needs."""
        body = {"name": name, **extra}
        if tier is not None:
            body["tier"] = tier
        return self._call("POST", "accounts", json=body)

    def fault(
        self,
        count: int,
        status: int | None = None,
        latency_ms: int | None = None,
        path_prefix: str | None = None,
        **extra: Any,
    ) -> None:
        """Make the next ``count`` matching requests fail or slow down."""
        body: dict[str, Any] = {"count": count, **extra}
        for key, value in (
            ("status", status),
            ("latency_ms", latency_ms),
            ("path_prefix", path_prefix),
        ):
            if value is not None:
                body[key] = value
        self._call("POST", "faults", json=body)

    def counters(self, account: str | None = None) -> dict:
        """Return ``{"reads", "writes", "by_path"}``, for one account or all."""
        params = {"account": account} if account is not None else {}
        return self._call("GET", "counters", params=params)

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's own clock forward."""
        self._call("POST", "clock", json={"advance_seconds": seconds})

    def verb(self, name: str, body: dict | None = None) -> Any:
        """Call a vendor-specific control verb, such as ``prospect_status``."""
        return self._call("POST", name, json=body or {})
