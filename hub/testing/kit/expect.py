"""Assertions the suites share, with failures written for a connector's author."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hub.errors import HubError


def raises(expected: type[Exception], call: Callable[[], Any], what: str) -> Exception:
    """Return the exception ``call`` raised, failing unless it is ``expected``."""
    try:
        result = call()
    except expected as exc:
        return exc
    except Exception as exc:
        pytest.fail(
            f"{what} raised {type(exc).__name__}: {exc}. It must raise "
            f"hub.errors.{expected.__name__}, with a message that says what to fix.",
            pytrace=False,
        )
    pytest.fail(
        f"{what} returned {result!r}; it must raise hub.errors.{expected.__name__}.",
        pytrace=False,
    )


def succeeds(call: Callable[[], Any], what: str) -> Any:
    """Return what ``call`` returns, failing with its message when it raises."""
    try:
        return call()
    except HubError as exc:
        pytest.fail(f"{what} raised {type(exc).__name__}: {exc.message}", pytrace=False)


def well_written(error: HubError, secrets: list[str]) -> None:
    """Fail unless an error's message is a sentence that shows no secret."""
    assert isinstance(error.message, str) and error.message.strip(), (
        f"{type(error).__name__} has no message; say what went wrong and the fix."
    )
    shown = [s for s in secrets if s and len(s) >= 6 and s in error.message]
    assert not shown, "The error message shows a secret setting; leave it out."


def json_ready(value: Any, what: str) -> str:
    """Return ``value`` as JSON, failing when it is not JSON-ready."""
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"{what} is not JSON-ready: {exc}.", pytrace=False)
