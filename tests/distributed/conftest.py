"""Fixtures for the distributed stack: PostgreSQL, Redis, Celery workers and beat.

Tests skip, saying why, when PostgreSQL or ``redis-server`` is missing; ``.ci/run``
starts them, so they run in CI.
"""

from __future__ import annotations

import shutil

import pytest
from distributed_stack import (
    RedisServer,
    beat,
    database_url,
    free_port,
    gunicorn,
    postgres_problem,
    settings_for,
    stack_env,
    stop,
    wait_for,
    worker,
)

from hub import create_app
from hub.extensions import db


@pytest.fixture(scope="session")
def postgres_problem_text() -> str | None:
    """Return why PostgreSQL cannot be used, or ``None`` when it answers."""
    return postgres_problem(database_url())


@pytest.fixture(scope="module", autouse=True)
def _hub_on_postgres(postgres_problem_text):
    """Put this module's test apps on PostgreSQL when it answers, and only this
    module's: the suites that run after it keep their SQLite files."""
    if postgres_problem_text:
        yield
        return
    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_TEST_DATABASE_URL", database_url())
    yield
    patch.undo()


@pytest.fixture
def postgres(postgres_problem_text) -> str:
    """Return the PostgreSQL server's URL, or skip saying why it cannot be used."""
    if postgres_problem_text:
        pytest.skip(postgres_problem_text)
    return database_url()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """Return a Redis server of this module's own."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed; apt-get install redis-server.")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


class Stack:
    """The hub's web in a thread and Celery processes on PostgreSQL and Redis."""

    def __init__(self, world, tmp, redis_server, env) -> None:
        self.world = world
        self.tmp = tmp
        self.redis = redis_server
        self.env = env
        self.workers: dict[str, object] = {}
        self.beat = None

    def start_worker(self, name: str, ready: bool = True):
        """Start a Celery worker; return it once it takes tasks, unless told not
        to wait."""
        process = worker(self.env, self.tmp, name)
        self.workers[name] = process
        log = self.tmp / f"{name}.log"
        if ready:
            wait_for(lambda: " ready." in log.read_text(), timeout=60)
        return process

    def start_beat(self) -> None:
        if self.beat is None or self.beat.poll() is not None:
            self.beat = beat(self.env, self.tmp)

    def stop_workers(self, hard: bool = False) -> None:
        for process in self.workers.values():
            stop(process, hard=hard)
        self.workers = {}

    def stop_all(self) -> None:
        self.stop_workers(hard=True)
        stop(self.beat)
        self.beat = None

    def logs(self) -> str:
        return "\n".join(
            f"== {path.name}\n{path.read_text()[-3000:]}"
            for path in sorted(self.tmp.glob("*.log"))
        )


@pytest.fixture(scope="module")
def stack(postgres_problem_text, redis_server, tmp_path_factory):
    """Run the hub on PostgreSQL and Redis: gunicorn with two workers, two Celery
    workers and beat, and the sandboxes, each a process of its own."""
    from sandbox_world import World

    from hub.testing.server import SandboxProcess

    if postgres_problem_text:
        pytest.skip(postgres_problem_text)
    tmp = tmp_path_factory.mktemp("stack")
    sandbox = SandboxProcess(tmp)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    settings = settings_for(tmp, sandbox.url, public_url, redis_server.url)
    # The test's own app shares the stack's database and keys; it serves nothing.
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    env = stack_env(tmp, settings, sandbox.url, redis_server.url)
    world = World(app, sandbox)
    world.tmp = tmp
    made = Stack(world, tmp, redis_server, env)
    try:
        made.web = gunicorn(env, tmp, port)
        made.start_worker("first")
        made.start_worker("second")
        made.start_beat()
        yield made
    finally:
        made.stop_all()
        stop(getattr(made, "web", None))
        world.close()
        with app.app_context():
            db.engine.dispose()
        sandbox.stop()
