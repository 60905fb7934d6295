"""The distributed stack for tests: PostgreSQL, a Redis of the test's own, Celery
workers and beat as processes, the sandboxes as a process, the hub's web in a thread.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sync"))

from sandbox_world import (  # noqa: E402
    CLEARCARE,
    HUBSPOT,
    hub_settings,
    wait_for,
)

from hub.testing.server import free_port  # noqa: E402

DEFAULT_DATABASE = "postgresql+psycopg://carehub:carehub@127.0.0.1:5432/carehub_test"


def database_url() -> str:
    """Return the PostgreSQL server the tests use."""
    return os.environ.get("HUB_TEST_DATABASE_URL") or DEFAULT_DATABASE


def postgres_problem(url: str) -> str | None:
    """Return why PostgreSQL cannot be used, or ``None`` when it answers."""
    try:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return (
            f"PostgreSQL is not reachable at {url.split('@')[-1]} "
            f"({exc.__class__.__name__}); start it with scripts/services.sh start "
            "or set HUB_TEST_DATABASE_URL."
        )
    return None


class RedisServer:
    """A Redis server of the test's own on a free port, with an append-only file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "redis.log").open("a") as log:
            self.process = self._popen(log)
        wait_for(self.ping, timeout=10)

    def _popen(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_timeout=1).ping()
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        """Stop Redis as a crash would: ``kill -9``."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def stack_env(tmp: Path, settings: dict, sandbox_url: str, broker: str) -> dict:
    """Return the environment of the stack's processes."""
    (tmp / "metrics").mkdir(exist_ok=True)
    return {
        **os.environ,
        "HUB_INSTANCE_PATH": settings["HUB_INSTANCE_PATH"],
        "HUB_DATABASE_URL": settings["HUB_DATABASE_URL"],
        "HUB_PUBLIC_URL": settings["HUB_PUBLIC_URL"],
        "HUB_QUEUE": "celery",
        "HUB_BROKER_URL": broker,
        "HUB_LOAD_PLUGINS": "hubspot,clearcare",
        "HUB_HUBSPOT_BASE_URL": sandbox_url + HUBSPOT,
        "HUB_CLEARCARE_BASE_URL": sandbox_url + CLEARCARE,
        "HUB_RETRY_SCHEDULE": "0.2,0.4,0.8,1.6",
        "HUB_RETRY_RATE_LIMIT_WAIT": "0.2",
        "HUB_LEASE_SECONDS": "2",
        "HUB_SWEEP_SECONDS": "0.5",
        "HUB_SWEEP_GRACE_SECONDS": "1",
        "HUB_RECONCILE": "0",
        "HUB_RATE_LIMIT_STORAGE": broker.rsplit("/", 1)[0] + "/1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
    }


def celery_process(env: dict, log: Path, *args: str) -> subprocess.Popen:
    """Start ``celery -A hub.queue.worker:celery <args>``; return the process."""
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "hub.queue.worker:celery", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def worker(env: dict, tmp: Path, name: str) -> subprocess.Popen:
    """Start one Celery worker with two threads."""
    return celery_process(
        env,
        tmp / f"{name}.log",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "2",
        "--hostname",
        f"{name}@%h",
        "--queues",
        "hub",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    )


def beat(env: dict, tmp: Path) -> subprocess.Popen:
    """Start Celery beat, which sends the sweep."""
    return celery_process(
        env,
        tmp / "beat.log",
        "beat",
        "--schedule",
        str(tmp / "beat-schedule"),
        "--loglevel",
        "INFO",
    )


def gunicorn(env: dict, tmp: Path, port: int) -> subprocess.Popen:
    """Start gunicorn with the repository's config and two workers; return it."""
    with (tmp / "gunicorn.log").open("a") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def up() -> bool:
        assert process.poll() is None, (tmp / "gunicorn.log").read_text()[-3000:]
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=60)
    except BaseException:
        stop(process)
        raise
    return process


def settings_for(tmp: Path, sandbox_url: str, public_url: str, broker: str) -> dict:
    """Return the web app's settings on the stack."""
    return {
        **hub_settings(tmp, sandbox_url, public_url),
        "HUB_QUEUE": "celery",
        "HUB_BROKER_URL": broker,
        "HUB_RECONCILE": False,
    }


def stop(process: subprocess.Popen | None, hard: bool = False) -> None:
    """Stop a process (``kill -9`` when ``hard``) and reap it."""
    if process is None or process.poll() is not None:
        return
    if hard:
        os.kill(process.pid, signal.SIGKILL)
    else:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
