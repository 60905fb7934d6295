"""The sync engine's Prometheus metrics, shared by every app in the process.

The gauges are measured from the database at each scrape, so with several processes
(``PROMETHEUS_MULTIPROC_DIR``) the latest measurement is the one reported.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_RECEIVED = Counter(
    "hub_events_received",
    "Events stored by the ingress and handed to the dispatcher.",
    ["connector"],
)
EVENTS_PROCESSED = Counter(
    "hub_events_processed",
    "Events a worker finished, by how they ended (synced, echo, unchanged, …).",
    ["connector", "outcome"],
)
EVENTS_FAILED = Counter(
    "hub_events_failed",
    "Tries that failed, by what happens next (retry, defer, needs_attention).",
    ["connector", "outcome"],
)
ECHOES_DROPPED = Counter(
    "hub_echoes_dropped",
    "Events recognised as the echo of the hub's own write and dropped.",
    ["connector"],
)
PROCESSING_SECONDS = Histogram(
    "hub_event_processing_seconds",
    "Time a worker spent on one try of an event.",
    ["connector"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REMOTE_CALLS = Counter(
    "hub_remote_calls",
    "Calls the sync engine made to connectors, by hook and how they ended.",
    ["connector", "hook", "status"],
)
EVENTS_PENDING = Gauge(
    "hub_events_pending",
    "Events waiting to be processed or retried.",
    ["connector"],
    multiprocess_mode="mostrecent",
)
OLDEST_PENDING_SECONDS = Gauge(
    "hub_oldest_pending_event_age_seconds",
    "Age of the oldest event waiting to be processed or retried.",
    ["connector"],
    multiprocess_mode="mostrecent",
)
