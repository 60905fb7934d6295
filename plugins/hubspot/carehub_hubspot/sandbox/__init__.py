"""A stateful stand-in for HubSpot's API, served under ``/_sandbox/hubspot/``.

It keeps portals, contacts, deals, properties, pipelines and workflows in the
sandbox database, answers with HubSpot's paths, shapes, status codes, error bodies
and rate limits, and fires the webhooks of enabled workflows from a background
sender on its own clock.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, request
from werkzeug.exceptions import HTTPException

from carehub_hubspot.sandbox import (
    account,
    associations,
    batches,
    control,
    errors,
    flows,
    gate,
    groups,
    oauth,
    objects,
    pipelines,
    properties,
    search,
    state,
    store,
)
from carehub_hubspot.sandbox.errors import ApiError
from carehub_hubspot.sandbox.sender import RESPONSE_TIMEOUT, Sender
from hub import sandbox as hub_sandbox


def create_blueprint(app: Flask) -> Blueprint:
    """Return the HubSpot sandbox's blueprint for an app, and start its sender."""
    engine = hub_sandbox.engine(app)
    store.create_tables(engine)
    sandbox_state = state.SandboxState(engine=engine)
    timeout = app.config.get("HUB_HUBSPOT_SANDBOX_WEBHOOK_TIMEOUT") or RESPONSE_TIMEOUT
    sandbox_state.sender = Sender(engine, response_timeout=float(timeout))
    app.extensions[state.EXTENSION] = sandbox_state

    bp = Blueprint("hubspot_sandbox", __name__)
    bp.record_once(lambda setup: _remember_prefix(sandbox_state, setup.url_prefix))
    bp.before_request(_before)
    bp.after_request(_after)
    bp.register_error_handler(ApiError, errors.respond)
    bp.register_error_handler(HTTPException, errors.handle_http_exception)
    bp.register_error_handler(Exception, errors.handle_unexpected)

    control.register(bp)
    account.register(bp)
    objects.register(bp)
    batches.register(bp)
    search.register(bp)
    associations.register(bp)
    groups.register(bp)
    properties.register(bp)
    pipelines.register(bp)
    flows.register(bp)
    oauth.register(bp)
    bp.add_url_rule("/<path:unknown>", view_func=unknown_path, methods=_ALL_METHODS)
    sandbox_state.sender.start()

    return bp


_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _remember_prefix(sandbox_state: state.SandboxState, prefix: str | None) -> None:
    sandbox_state.prefix = (prefix or "").rstrip("/")


def _before():
    if gate.api_path().startswith(("/_control/", "/oauth/v1/access-tokens/")):
        return None
    gate.check_request()

    return None


def _after(response):
    response = gate.add_headers(response)
    if g.get("hubspot_wake"):
        state.current().sender.wake()

    return response


def unknown_path(unknown: str):
    """Answer a path HubSpot does not serve with its 404 body."""
    raise ApiError(404, f"No route matches {request.method} /{unknown}.")
