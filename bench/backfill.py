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
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import requests

from hub.demo import CONTACTS, Demo, serve_hub, serve_sandboxes
from hub.extensions import db
from hub.models import Agency
from hub.sync.backfill import backfill

ROOT = Path(__file__).resolve().parents[1]

HUBSPOT_PER_SECOND = 190 / 10 * 0.75
CLEARCARE_PER_SECOND = 10
NAIVE_HUBSPOT = 4  # read and write the contact, read and write its deal
NAIVE_CLEARCARE = 2  # read (look for) and write the prospect


def quiet(_line: str) -> None:
    """Print nothing: the benchmark prints only its figures."""


@contextmanager
def sandboxes_apart(tmp: Path):
    """Serve both sandboxes from ``flask --app wsgi hub sandbox`` in a process of
    their own; yield what stands for the sandbox app: its served URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HUB_INSTANCE_PATH": str(tmp / "sandbox-instance"),
        "HUB_DATABASE_URL": f"sqlite:///{tmp / 'sandbox-hub.sqlite'}",
        "HUB_SANDBOX_DATABASE_URL": f"sqlite:///{tmp / 'sandbox.sqlite'}",
        "HUB_LOAD_PLUGINS": "hubspot,clearcare",
        "HUB_WORKER": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "hub", "sandbox"]
        + ["--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("The sandbox process did not start.") from None
                time.sleep(0.2)
        yield SimpleNamespace(config={"HUB_SERVED_URL": url})
    finally:
        process.terminate()
        process.wait(timeout=20)


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
        with (
            sandboxes_apart(tmp) if args.apart else serve_sandboxes(tmp) as sandboxes,
            serve_hub(tmp, url, sandboxes, settings) as app,
        ):
            # One location, so every contact can become a prospect without one set.
            demo = Demo(
                app,
                sandboxes.config["HUB_SERVED_URL"],
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
