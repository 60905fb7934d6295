"""Serving an app on a loopback port for tests that talk HTTP to it."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
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


def free_port(host: str = "127.0.0.1") -> int:
    """Return a loopback port free at the time of asking."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class SandboxProcess:
    """Both sandboxes served by ``flask hub sandbox`` in a process of their own, on
    a free loopback port, with their databases in ``folder``.

    The sandboxes then share no interpreter (and no GIL) with the hub under test.
    ``url`` is where they answer, ``process`` the running command and ``log`` the
    file holding what it printed. Use it as a context manager, or call
    :meth:`stop`.

    :raises RuntimeError: when the process ends or does not answer in ``timeout``
        seconds; the message holds what it printed.
    """

    def __init__(self, folder: Path, timeout: float = 60.0) -> None:
        folder = Path(folder)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "sandbox.log"
        env = {
            **os.environ,
            "HUB_INSTANCE_PATH": str(folder / "sandbox-instance"),
            "HUB_DATABASE_URL": f"sqlite:///{folder / 'sandbox-hub.sqlite'}",
            "HUB_SANDBOX_DATABASE_URL": f"sqlite:///{folder / 'sandbox.sqlite'}",
            "HUB_LOAD_PLUGINS": "hubspot,clearcare",
            "HUB_WORKER": "0",
        }
        command = [sys.executable, "-m", "flask", "--app", "hub:create_app"]
        command += ["hub", "sandbox", "--port", str(self.port)]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            self._wait_until_up(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "The sandbox process did not start:\n" + self.log.read_text()
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """End the process, waiting for it."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


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
