"""Fixtures for reconciliation and backfill: the hub served against a sandbox
process, as the sync engine's end-to-end tests have it, with the reconciler driven
by the test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The end-to-end helpers of the sync engine's tests drive the hub and both sandboxes.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Serve the hub against a sandbox process of its own, with its worker running;
    reconciliation runs only when a test asks."""
    from sandbox_world import World
    from sandbox_world import make_hub as make_served_hub

    from hub.extensions import db
    from hub.testing.server import SandboxProcess, serve

    tmp = tmp_path_factory.mktemp("reconcile")
    sandbox = SandboxProcess(tmp)
    try:
        with serve(make_served_hub(tmp, sandbox.url)) as app:
            made = World(app, sandbox)
            made.tmp = tmp
            made.dispatcher.start()
            yield made
            app.extensions["hub.reconciler"].stop()
            made.dispatcher.stop()
            made.close()
            with app.app_context():
                db.engine.dispose()
    finally:
        sandbox.stop()
