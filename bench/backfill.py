"""Backfill of existing HubSpot contacts through the sandboxes: HubSpot and
ClearCare calls per contact and wall time, against the naive way.

Run from the repository root: ``.venv/bin/python bench/backfill.py [--contacts N]``.
The hub and both sandboxes are served in this process as the demo serves them. The
contacts are made in the HubSpot sandbox before the hub provisions the portal, so
its workflows do not fire for them, as for an agency's existing contacts. The
calls are the sandboxes' own counters for the two accounts. The naive way reads and
writes each object once per side (HubSpot: the contact and its deal; ClearCare:
the prospect), at the same rate limits the hub keeps to: a share of
``HUB_HUBSPOT_SHARE`` of HubSpot's 190 requests per 10 s, and ClearCare's 10 a
second.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from hub.demo import CONTACTS, Demo, serve_hub, serve_sandboxes
from hub.extensions import db
from hub.models import Agency, Event, utcnow
from hub.sync.backfill import backfill
from hub.testing.server import SandboxProcess

ROOT = Path(__file__).resolve().parents[1]

HUBSPOT_PER_SECOND = 190 / 10 * 0.75
CLEARCARE_PER_SECOND = 10
NAIVE_HUBSPOT = 4  # read and write the contact, read and write its deal
NAIVE_CLEARCARE = 2  # read (look for) and write the prospect


def quiet(_line: str) -> None:
    """Print nothing: the benchmark prints only its figures."""


def cpu_seconds(pid: int | None) -> float:
    """Return the CPU time a process has used, user and system, in seconds."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(demo: Demo, count: int) -> None:
    """Make ``count`` contacts in the portal, a hundred a call."""
    for start in range(0, count, 100):
        inputs = [
            {
                "properties": {
                    "firstname": "Existing",
                    "lastname": f"Contact {n}",
                    "email": f"existing.{n}@bench.example",
                }
            }
            for n in range(start, min(count, start + 100))
        ]
        demo.hs("POST", f"{CONTACTS}/batch/create", json={"inputs": inputs})


def calls(control, account: str) -> int:
    counted = control.counters(account=account)
    return counted["reads"] + counted["writes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--paths", action="store_true", help="Also print the calls by path."
    )
    parser.add_argument(
        "--apart",
        action="store_true",
        help="Serve the sandboxes from a process of their own (flask hub sandbox), "
        "so they do not share the hub's interpreter.",
    )
    args = parser.parse_args()
    n = args.contacts

    with tempfile.TemporaryDirectory(prefix="carehub-backfill-") as folder:
        tmp = Path(folder)
        url = f"sqlite:///{tmp / 'hub.sqlite'}"
        # Reconciliation at its default interval (15 min), not the demo's 30 s: a
        # poll every 30 s would read back every contact the backfill wrote.
        settings = {"HUB_RECONCILE_SECONDS": 900}
        with contextlib.ExitStack() as stack:
            sandbox_pid = None
            if args.apart:
                apart = stack.enter_context(SandboxProcess(tmp))
                sandbox_url, sandbox_pid = apart.url, apart.process.pid
            else:
                sandbox_url = stack.enter_context(serve_sandboxes(tmp)).config[
                    "HUB_SERVED_URL"
                ]
            app = stack.enter_context(serve_hub(tmp, url, sandbox_url, settings))
            # One location, so every contact can become a prospect without one set.
            demo = Demo(
                app,
                sandbox_url,
                quiet,
                slug="bench",
                locations=("Main Office",),
            )
            demo.connect_agency()
            seed(demo, n)
            demo.provision(300)
            with app.app_context():
                agency = db.session.get(Agency, demo.agency_id)
                portal_id = agency.connection("hubspot").state["portal_id"]
                care_id = str(demo.care["agency_id"])
            demo.wait_settled(60)
            hs_before = calls(demo.hubspot, portal_id)
            cc_before = calls(demo.clearcare, care_id)

            started = time.perf_counter()
            cpu_before = cpu_seconds(os.getpid()), cpu_seconds(sandbox_pid)
            backfill_began = utcnow()
            with app.app_context():
                agency = db.session.get(Agency, demo.agency_id)
                done = backfill(
                    agency,
                    app.extensions["hub.connectors"],
                    app.extensions["hub.dispatcher"].drain,
                    batch_size=args.batch_size,
                    timeout=3600,
                )
            passed = time.perf_counter() - started
            demo.wait_settled(600)
            elapsed = time.perf_counter() - started
            with app.app_context():
                events = db.session.execute(
                    sa.select(
                        Event.connector, Event.purpose, Event.outcome, sa.func.count()
                    )
                    .where(Event.received_at >= backfill_began)
                    .group_by(Event.connector, Event.purpose, Event.outcome)
                ).all()
            hub_cpu = cpu_seconds(os.getpid()) - cpu_before[0]
            sandbox_cpu = cpu_seconds(sandbox_pid) - cpu_before[1]
            hs_calls = calls(demo.hubspot, portal_id) - hs_before
            cc_calls = calls(demo.clearcare, care_id) - cc_before
            linked = len(demo.links())
            by_path = {
                f"HubSpot {path}": count
                for path, count in demo.hubspot.counters(account=portal_id)[
                    "by_path"
                ].items()
            }
            by_path.update(
                (f"ClearCare {path}", count)
                for path, count in demo.clearcare.counters(account=care_id)
                .get("by_path", {})
                .items()
            )
            demo.http.close()
            app.extensions["hub.reconciler"].stop()
            app.extensions["hub.dispatcher"].stop()

    if args.paths:
        for path, count in sorted(by_path.items(), key=lambda item: -item[1]):
            print(f"  {count:>6}  {path}")
    naive_wall = max(
        n * NAIVE_HUBSPOT / HUBSPOT_PER_SECOND,
        n * NAIVE_CLEARCARE / CLEARCARE_PER_SECOND,
    )
    floor = n / CLEARCARE_PER_SECOND
    print(
        f"backfill of {n} existing contacts ({done.total} records, {done.created} "
        f"prospects created, {done.stored} handed to the worker, {linked} linked)"
    )
    print(f"{'':<30}{'HubSpot/contact':>16}{'ClearCare/contact':>19}{'wall s':>9}")
    print(
        f"{'hub backfill (measured)':<30}{hs_calls / n:>16.2f}{cc_calls / n:>19.2f}"
        f"{elapsed:>9.1f}"
    )
    print(
        f"{'naive (same rate limits)':<30}{NAIVE_HUBSPOT:>16.2f}"
        f"{NAIVE_CLEARCARE:>19.2f}{naive_wall:>9.1f}"
    )
    print(
        f"ratio hub/naive: HubSpot calls {hs_calls / n / NAIVE_HUBSPOT:.2f}x, "
        f"ClearCare calls {cc_calls / n / NAIVE_CLEARCARE:.2f}x, "
        f"wall time {elapsed / naive_wall:.2f}x"
    )
    print(
        f"wall time: the backfill's own pass {passed:.1f} s, then its echoes "
        f"settled {elapsed - passed:.1f} s later"
    )
    print(
        "events the hub received meanwhile, by connector, purpose and outcome: "
        + ", ".join(f"{c} {p} {o}: {k}" for c, p, o, k in sorted(events, key=str))
    )
    print(
        f"CPU time: the hub's process {hub_cpu:.1f} s "
        f"({hub_cpu / n * 1000:.1f} ms per contact)"
        + (f", the sandboxes' process {sandbox_cpu:.1f} s" if args.apart else "")
        + f", in {elapsed:.1f} s on {os.cpu_count()} cores"
    )
    print(
        f"ClearCare calls per new prospect: {cc_calls / max(done.created, 1):.2f} "
        "(including the token and the echoes)"
    )
    print(
        f"wall time against ClearCare's limit alone ({floor:.1f} s): "
        f"{elapsed / floor:.2f}x (aim: 0.1 HubSpot calls per contact, one ClearCare "
        "call per new prospect, 1.0x)"
    )


if __name__ == "__main__":
    main()
