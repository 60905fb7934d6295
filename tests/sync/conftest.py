"""Fixtures for the sync engine's tests: a hub with two in-memory connectors, and
the hub against the real connectors' sandboxes."""

from __future__ import annotations

import pytest
from memory_hub import make_hub

from hub.extensions import db


@pytest.fixture
def hub(tmp_path):
    """Return the hub with both fake vendors; its worker runs only when told."""
    made = make_hub(tmp_path)
    yield made
    made.dispatcher.stop()
    with made.app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Serve the hub against a sandbox process of its own, with its worker running."""
    from sandbox_world import World
    from sandbox_world import make_hub as make_served_hub

    from hub.testing.server import SandboxProcess, serve

    tmp = tmp_path_factory.mktemp("e2e")
    sandbox = SandboxProcess(tmp)
    try:
        with serve(make_served_hub(tmp, sandbox.url)) as app:
            made = World(app, sandbox)
            made.tmp = tmp
            made.dispatcher.start()
            yield made
            made.dispatcher.stop()
            made.close()
            with app.app_context():
                db.engine.dispose()
    finally:
        sandbox.stop()
