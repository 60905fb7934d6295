"""Serving an app on a loopback port for tests that talk HTTP to it."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


class _Later:
    """A WSGI app that forwards to one set after the port is known."""

    app: Flask | None = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@contextmanager
def serve(make_app: Callable[[str], Flask], host: str = "127.0.0.1") -> Iterator[Flask]:
    """Serve ``make_app(url)`` on a free loopback port in a thread; yield the app.

    The app is made after the port is chosen, so it can know its own public URL
    (``HUB_PUBLIC_URL``); the URL is kept in ``app.config["HUB_SERVED_URL"]``.
    """
    later = _Later()
    server = make_server(host, 0, later, threaded=True)
    url = f"http://{host}:{server.server_port}"
    later.app = make_app(url)
    later.app.config["HUB_SERVED_URL"] = url
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="test-server",
        daemon=True,
    )
    thread.start()
    try:
        yield later.app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_config(tmp_path, **overrides) -> dict:
    """Return settings for an app under test: its own files in ``tmp_path``, no
    worker, and no entry points unless ``HUB_LOAD_ENTRY_POINTS`` says so.

    When the environment names a PostgreSQL database in ``HUB_TEST_DATABASE_URL``,
    the hub and the sandboxes get schemas of their own in it instead of SQLite files.
    """
    server = os.environ.get("HUB_TEST_DATABASE_URL")
    config = {
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
        "HUB_DATABASE_URL": (
            _schema_url(server, tmp_path, "hub")
            if server
            else f"sqlite:///{tmp_path / 'hub.sqlite'}"
        ),
        "HUB_SANDBOX_DATABASE_URL": (
            _schema_url(server, tmp_path, "sandbox")
            if server
            else f"sqlite:///{tmp_path / 'sandbox.sqlite'}"
        ),
        "HUB_WORKER": False,
        "HUB_LOAD_ENTRY_POINTS": False,
        "TESTING": True,
    }
    config.update(overrides)
    return config


#: Not a test, though its name starts like one.
test_config.__test__ = False


def _schema_url(server: str, tmp_path, role: str) -> str:
    """Return a URL whose connections use a schema of their own for ``tmp_path``.

    The schema is made empty the first time a test's folder asks for it, so apps
    made twice in one test share it and a rerun starts clean.
    """
    import sqlalchemy as sa

    digest = hashlib.sha1(str(tmp_path).encode()).hexdigest()[:16]
    schema = f"t_{role}_{digest}"
    marker = tmp_path / f".{schema}"
    if not marker.exists():
        engine = sa.create_engine(server, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        marker.touch()
    separator = "&" if "?" in server else "?"

    return f"{server}{separator}options=-csearch_path%3D{schema}"
