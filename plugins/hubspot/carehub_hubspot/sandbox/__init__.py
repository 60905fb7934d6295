"""A stateful stand-in for HubSpot's API, served under ``/_sandbox/hubspot/``."""

from flask import Blueprint, jsonify


def create_blueprint(app) -> Blueprint:
    """Return the HubSpot sandbox's blueprint for an app."""
    bp = Blueprint("hubspot_sandbox", __name__)

    @bp.post("/_control/reset")
    def reset():
        return jsonify({})

    return bp
