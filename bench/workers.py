"""Webhooks stored per second on the distributed stack against the embedded default;
events processed per second by one Celery worker against two, on PostgreSQL and
Redis, with the sandboxes' latency held fixed by a fault; and each process's memory.

Run from the repository root with PostgreSQL and ``redis-server`` installed:
``.venv/bin/python bench/workers.py [--contacts 30] [--latency-ms 50]``. It starts
PostgreSQL (``scripts/services.sh start``), a Redis of its own, the sandboxes as a
process, gunicorn with two workers and Celery beat, provisions one agency per round,
stores the webhooks of ``--contacts`` new HubSpot contacts while no worker runs, then
starts one (or two) Celery workers of two threads each and times them from the first
try to the last event's end, as the event rows record it. Before that, ``--webhooks``
HubSpot workflow webhooks are posted by 16 threads to gunicorn (two workers) on each
stack: SQLite with no worker, and PostgreSQL sending each event to Redis.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "distributed"))
os.chdir(ROOT)

from distributed_stack import (  # noqa: E402
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


def rss_mib(pid: int) -> float:
    """Return a process's resident memory in MiB (0 once it ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Return the ids of a process's children."""
    found = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout.split()
    return [int(p) for p in found]


def rate(world, tenant) -> tuple[int, float]:
    """Return how many events of the tenant ended and how many ended per second,
    from the first try's start to the last event's end."""
    import sqlalchemy as sa

    from hub.extensions import db
    from hub.models import Event, EventAttempt

    with world.app.app_context():
        started = db.session.scalar(
            sa.select(sa.func.min(EventAttempt.started_at))
            .join(Event, Event.id == EventAttempt.event_id)
            .where(Event.agency_id == tenant.agency_id)
        )
        ended, count = db.session.execute(
            sa.select(sa.func.max(Event.finished_at), sa.func.count(Event.id)).where(
                Event.agency_id == tenant.agency_id
            )
        ).one()
    seconds = max((ended - started).total_seconds(), 1e-6)
    return count, count / seconds


def start_workers(stack, count: int, label: str) -> list:
    """Start ``count`` Celery workers and return them once they take tasks."""
    tmp, env = stack["tmp"], stack["env"]
    running = [worker(env, tmp, f"{label}-{n}") for n in range(count)]
    for n in range(count):
        log = tmp / f"{label}-{n}.log"
        wait_for(lambda log=log: " ready." in log.read_text(), timeout=60)
    return running


def run_round(stack, tenant, workers: int, contacts: int) -> dict:
    """Store the webhooks of new contacts, then time ``workers`` workers."""
    world, tmp, env = stack["world"], stack["tmp"], stack["env"]
    for n in range(contacts):
        world.new_contact(tenant, firstname=f"Bench{n}", lastname="Worker")
    wait_for(lambda: len(world.events(tenant)) >= contacts, timeout=120)

    running = [worker(env, tmp, f"round{workers}-{n}") for n in range(workers)]
    try:
        wait_for(
            lambda: len(world.linked(tenant, "deal")) == contacts,
            timeout=600,
            every=0.5,
        )
        wait_for(lambda: world.settled(tenant), timeout=120, every=0.5)
        memory = {
            f"celery worker {n + 1}": rss_mib(p.pid) for n, p in enumerate(running)
        }
    finally:
        for process in running:
            stop(process)
    events, per_second = rate(world, tenant)
    return {"events": events, "per_second": per_second, "memory": memory}


def ingest_rate(app, env: dict, tmp: Path, webhooks: int) -> float:
    """Serve ``app``'s database with gunicorn and return the webhooks it stored per
    second, posted by 16 threads."""
    from concurrent.futures import ThreadPoolExecutor

    import requests
    import sqlalchemy as sa

    from hub.extensions import db
    from hub.models import Agency, Connection, Event
    from hub.settings import save_settings

    with app.app_context():
        db.create_all()
        agency = Agency(slug="ingest", name="Ingest Bench", settings={})
        connection = Connection(agency=agency, connector="hubspot", settings={})
        info = app.extensions["hub.connectors"].info("hubspot")
        save_settings(connection, info, {"access_token": "pat-na1-bench"})
        db.session.add(connection)
        db.session.commit()
        path = connection.webhook_url("contact.created").split("/hooks/", 1)[1]
        db.session.commit()
    port = free_port()
    web = gunicorn({**env, "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}"}, tmp, port)
    url = f"http://127.0.0.1:{port}/hooks/{path}"

    def post(numbers) -> None:
        with requests.Session() as session:
            for n in numbers:
                body = {"vid": 10_000 + n, "portal-id": 1}
                answer = session.post(url, json=body, timeout=30)
                answer.raise_for_status()

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(post, [range(t, webhooks, 16) for t in range(16)]))
        seconds = time.perf_counter() - started
    finally:
        stop(web)
    with app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count(Event.id)))
        db.engine.dispose()
    return stored / seconds


def ingest(tmp: Path, redis_url: str, webhooks: int) -> dict:
    """Return webhooks stored per second on the embedded default and the
    distributed stack."""
    from hub import create_app
    from hub.testing.server import test_config

    rates = {}
    base = Path(tempfile.mkdtemp(prefix="ingest-", dir=tmp))
    for name in ("embedded", "distributed"):
        folder = base / name
        folder.mkdir()
        settings = test_config(
            folder,
            HUB_LOAD_ENTRY_POINTS=True,
            HUB_LOAD_PLUGINS=["hubspot", "clearcare"],
        )
        env = {
            **os.environ,
            "HUB_INSTANCE_PATH": settings["HUB_INSTANCE_PATH"],
            "HUB_LOAD_PLUGINS": "hubspot,clearcare",
            "HUB_WORKER": "0",
        }
        if name == "embedded":
            settings["HUB_DATABASE_URL"] = f"sqlite:///{folder / 'hub.sqlite'}"
        else:
            settings.update(HUB_QUEUE="celery", HUB_BROKER_URL=redis_url)
            env.update(HUB_QUEUE="celery", HUB_BROKER_URL=redis_url)
        env["HUB_DATABASE_URL"] = settings["HUB_DATABASE_URL"]
        rates[name] = ingest_rate(create_app(settings), env, folder, webhooks)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--webhooks", type=int, default=2000)
    args = parser.parse_args()

    subprocess.run([str(ROOT / "scripts" / "services.sh"), "start"], check=True)
    url = database_url()
    problem = postgres_problem(url)
    if problem:
        sys.exit(problem)
    os.environ["HUB_TEST_DATABASE_URL"] = url

    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sandbox_world import World

    from hub import create_app
    from hub.extensions import db
    from hub.testing.server import SandboxProcess

    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    redis = RedisServer(tmp / "redis")
    try:
        stored = ingest(tmp, redis.url, args.webhooks)
    except BaseException:
        redis.stop()
        raise
    sandbox = SandboxProcess(tmp)
    port = free_port()
    settings = settings_for(tmp, sandbox.url, f"http://127.0.0.1:{port}", redis.url)
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    env = stack_env(tmp, settings, sandbox.url, redis.url)
    env["HUB_RETRY_SCHEDULE"] = "1,2,4,8"
    web = gunicorn(env, tmp, port)
    scheduler = beat(env, tmp)
    world = World(app, sandbox)
    stack = {"world": world, "tmp": tmp, "env": env}
    try:
        running = start_workers(stack, 2, "provisioning")
        try:
            tenants = [world.new_tenant(), world.new_tenant()]
        finally:
            for process in running:
                stop(process)
        # Every call to either sandbox is slowed alike, for both rounds.
        for control in (world.hubspot, world.clearcare):
            control.fault(1_000_000, latency_ms=args.latency_ms)
        one = run_round(stack, tenants[0], 1, args.contacts)
        two = run_round(stack, tenants[1], 2, args.contacts)
        memory = {
            "gunicorn master": rss_mib(web.pid),
            **{
                f"gunicorn worker {n + 1}": rss_mib(pid)
                for n, pid in enumerate(children(web.pid))
            },
            "celery beat": rss_mib(scheduler.pid),
            "sandboxes": rss_mib(sandbox.process.pid),
            **two["memory"],
        }
    finally:
        stop(scheduler)
        stop(web)
        world.close()
        sandbox.stop()
        redis.stop()

    print(f"\nWebhooks stored per second, {args.webhooks} posted by 16 threads:")
    for name, label in (
        ("embedded", "embedded (SQLite, no worker)"),
        ("distributed", "distributed (PostgreSQL, Redis)"),
    ):
        print(f"  {label:<34}{stored[name]:>8.0f}")
    ratio = stored["distributed"] / stored["embedded"]
    print(f"  ratio distributed : embedded  {ratio:.2f}")
    print(
        f"\nEvents processed per second, {args.contacts} new contacts, "
        f"sandbox latency {args.latency_ms} ms (2 threads per worker):"
    )
    print(f"  {'':<16}{'events':>8}{'per second':>12}")
    for name, found in (("1 worker", one), ("2 workers", two)):
        print(f"  {name:<16}{found['events']:>8}{found['per_second']:>12.1f}")
    print(f"  ratio 2 : 1  {two['per_second'] / one['per_second']:.2f}")
    print("\nResident memory (MiB):")
    for name, mib in memory.items():
        print(f"  {name:<20}{mib:>8.1f}")


if __name__ == "__main__":
    main()
