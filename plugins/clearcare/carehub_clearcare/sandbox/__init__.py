"""A stateful stand-in for ClearCare's Connect API, served under
``/_sandbox/clearcare/``.

It answers with ClearCare's paths, shapes, status codes and error bodies (the
gateway's 403 for a wrong path or scheme, 422 with a message, 500 with HTML), keeps
its state in the sandboxes' database, and fires subscriptions from a background
sender. Its control API lives under ``/_control/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app

from carehub_clearcare.sandbox import store
from carehub_clearcare.sandbox.sender import SubscriptionSender
from hub.sandbox import engine as sandbox_engine

EXTENSION = "clearcare.sandbox"


@dataclass
class SandboxState:
    """What the sandbox's views share in one app: its database and its sender."""

    engine: sa.Engine
    sender: SubscriptionSender


def state() -> SandboxState:
    """Return the sandbox's state in the current app."""
    return current_app.extensions[EXTENSION]


def create_blueprint(app: Flask) -> Blueprint:
    """Return the ClearCare sandbox's blueprint for an app, creating its tables."""
    from carehub_clearcare.sandbox import api, control

    engine = sandbox_engine(app)
    store.create_tables(engine)
    app.extensions[EXTENSION] = SandboxState(engine, SubscriptionSender(engine))

    bp = Blueprint("clearcare_sandbox", __name__)
    control.register(bp)
    api.register(bp)

    return bp
