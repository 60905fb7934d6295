"""``/metrics``: the hub's Prometheus metrics, the queue measured at each scrape."""

from __future__ import annotations

import hmac
import os

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from hub.errors import VerificationFailed
from hub.extensions import db
from hub.models import Event, EventStatus, utcnow
from hub.sync.metrics import EVENTS_PENDING, OLDEST_PENDING_SECONDS

bp = Blueprint("metrics", __name__)

WAITING = (
    EventStatus.PENDING.value,
    EventStatus.RETRY.value,
    EventStatus.PROCESSING.value,
)


@bp.get("/metrics")
def metrics():
    """Answer the metrics in Prometheus's text format; with ``HUB_METRICS_TOKEN``
    set, only to a scraper that sends it as a bearer token."""
    check_token()
    measure_queue()

    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)


def check_token() -> None:
    """Refuse a scrape without the bearer token, when one is set.

    :raises VerificationFailed: answered as 401.
    """
    token = current_app.config.get("HUB_METRICS_TOKEN")
    if not token:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise VerificationFailed(
            "The metrics need the bearer token of HUB_METRICS_TOKEN in the "
            "Authorization header."
        )


def registry() -> CollectorRegistry:
    """Return the registry to report: every process's files when
    ``PROMETHEUS_MULTIPROC_DIR`` is set (gunicorn, Celery), else this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)

    return combined


def measure_queue() -> None:
    """Set the pending-events gauges from the event table."""
    rows = db.session.execute(
        sa.select(
            Event.connector, sa.func.count(Event.id), sa.func.min(Event.received_at)
        )
        .where(Event.status.in_(WAITING))
        .group_by(Event.connector)
    ).all()
    now = utcnow()
    seen = set()
    for connector, count, oldest in rows:
        seen.add(connector)
        EVENTS_PENDING.labels(connector).set(count)
        OLDEST_PENDING_SECONDS.labels(connector).set(
            max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        )
    for connector in [labels[0] for labels in _label_sets(EVENTS_PENDING)]:
        if connector not in seen:
            EVENTS_PENDING.labels(connector).set(0)
            OLDEST_PENDING_SECONDS.labels(connector).set(0)


def _label_sets(metric) -> list[tuple[str, ...]]:
    return [
        tuple(sample.labels.values())
        for family in metric.collect()
        for sample in family.samples
    ]
