"""Liveness and readiness for load balancers and ``make run``."""

import sqlalchemy as sa
from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from hub.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 while the process serves requests."""
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz():
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="database unreachable"), 503

    return jsonify(status="ready")
