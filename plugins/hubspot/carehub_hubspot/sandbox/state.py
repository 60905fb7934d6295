"""The sandbox's per-app state: its engine, its mount point and its sender."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, g

from carehub_hubspot.sandbox import store

EXTENSION = "carehub_hubspot.sandbox"


@dataclass
class SandboxState:
    """What the HubSpot sandbox keeps for one app."""

    engine: sa.Engine
    prefix: str = ""
    sender: Any = None


def current() -> SandboxState:
    """Return the sandbox state of the current app."""
    return current_app.extensions[EXTENSION]


@contextmanager
def tx() -> Iterator[sa.Connection]:
    """Yield a connection in a write transaction on the sandbox database."""
    with store.transaction(current().engine) as conn:
        yield conn


def portal() -> dict:
    """Return the portal the current request's token belongs to."""
    return g.hubspot_portal


def wake_sender() -> None:
    """Ask the sender to look for due webhooks once the request is answered."""
    g.hubspot_wake = True
