"""A connector with one hook besides its registration, and a tiny sandbox."""

from flask import Blueprint, jsonify
from marshmallow import Schema

from hub import ConnectorInfo, ProspectStatus, Role, hookimpl


def sandbox(app):
    bp = Blueprint("tiny_sandbox", __name__)

    @bp.get("/_control/counters")
    def counters():
        return jsonify(reads=0, writes=0, by_path={})

    return bp


@hookimpl
def register_connectors(register):
    register(
        ConnectorInfo(
            "tiny", "Tiny CRM", Role.SALES, settings_schema=Schema, sandbox=sandbox
        )
    )


@hookimpl
def map_status(status, direction):
    return f"tiny-{ProspectStatus(status).position}"
