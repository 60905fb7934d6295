"""Contact created in HubSpot -> deal created by the hub: p50 and p99, idle and
while other agencies send 20 webhooks a second.

Run from the repository root: ``.venv/bin/python bench/latency.py``. The hub and
both sandboxes are served in this process as the demo serves them (the embedded
worker on); the clock starts when the sandbox answers the contact's create and stops
when the hub has recorded the deal it made. The webhooks of the load are
``contact.changed`` webhooks for the contacts of four other agencies, posted to the
hub at the given rate; each makes the worker read the contact back.

The measured contacts are made ``--interval`` seconds apart (1 by default): each
costs the hub about five calls to the agency's portal, so made back to back (some
six a second) they would soon spend the hub's share of the portal's rate limit
(142 calls in 10 s) and measure its pacing rather than the sync's latency.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from hub.demo import CONTACTS, Demo, serve_hub, serve_sandboxes
from hub.extensions import db
from hub.models import Agency, RemoteRef

NOISE_AGENCIES = 4


def quiet(_line: str) -> None:
    """Print nothing: the benchmark prints only its figures."""


def deal_made(app, agency_id: int, contact: str) -> bool:
    """Return whether the hub has recorded a deal for the contact's person."""
    with app.app_context():
        link_id = db.session.scalar(
            sa.select(RemoteRef.link_id).where(
                RemoteRef.agency_id == agency_id,
                RemoteRef.kind == "contact",
                RemoteRef.remote_id == contact,
            )
        )
        if link_id is None:
            return False
        return bool(
            db.session.scalar(
                sa.select(RemoteRef.id).where(
                    RemoteRef.link_id == link_id, RemoteRef.kind == "deal"
                )
            )
        )


class FellBehind(Exception):
    """A deal took longer than the wait: the worker is not keeping up."""


def sample(demo: Demo, n: int, location: str) -> float:
    """Create one contact and return the seconds until the hub made its deal.

    :raises FellBehind: after 60 s without the deal.
    """
    properties = {
        "firstname": "Latency",
        "lastname": f"Sample {n}",
        "clearcare_location": location,
    }
    contact = demo.hs("POST", CONTACTS, json={"properties": properties})["id"]
    started = time.perf_counter()
    deadline = started + 60
    while not deal_made(demo.app, demo.agency_id, contact):
        if time.perf_counter() > deadline:
            raise FellBehind(f"No deal for contact {contact} after 60 s.")
        time.sleep(0.005)
    return time.perf_counter() - started


def paced(measure, interval: float, *args) -> float:
    """Return ``measure(*args)``, having waited until ``interval`` seconds have
    passed since it began."""
    began = time.perf_counter()
    seconds = measure(*args)
    time.sleep(max(0.0, interval - (time.perf_counter() - began)))
    return seconds


def location_of(demo: Demo) -> str:
    with demo.app.app_context():
        agency = db.session.get(Agency, demo.agency_id)
        return agency.locations[0].remote_id


def noise_targets(demos: list[Demo]) -> list[tuple[str, dict]]:
    """Return each noise agency's contact.changed URL and a body naming its contact."""
    targets = []
    for demo in demos:
        demo.create_contacts(1)
        demo.wait("the noise contact", lambda d=demo: len(d.links()) == 1, 60)
        contact = demo.links()[0]["contact"]
        with demo.app.app_context():
            connection = db.session.get(Agency, demo.agency_id).connection("hubspot")
            url = connection.webhook_url("contact.changed")
            portal = connection.state["portal_id"]
            db.session.commit()
        targets.append((url, {"vid": int(contact), "portal-id": int(portal)}))
    return targets


class Noise:
    """Posts webhooks at a steady rate from a thread until stopped."""

    def __init__(self, targets, rate: float) -> None:
        self.targets, self.rate = targets, rate
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        session = requests.Session()
        started = time.perf_counter()
        while not self.stopping.is_set():
            url, body = self.targets[self.sent % len(self.targets)]
            session.post(url, json=body, timeout=30)
            self.sent += 1
            wait = started + self.sent / self.rate - time.perf_counter()
            if wait > 0:
                self.stopping.wait(wait)
        self.elapsed = time.perf_counter() - started

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def figures(name: str, seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(len(ordered) * 0.99)) - 1)]
    print(f"{name:<28}{p50 * 1000:>10.0f}{p99 * 1000:>10.0f}{len(ordered):>9}")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="Seconds between the starts of two measured contacts (0: back to back).",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="carehub-latency-") as folder:
        tmp = Path(folder)
        url = f"sqlite:///{tmp / 'hub.sqlite'}"
        with (
            serve_sandboxes(tmp) as sandboxes,
            serve_hub(tmp, url, sandboxes.config["HUB_SERVED_URL"]) as app,
        ):
            base = sandboxes.config["HUB_SERVED_URL"]
            demos = [
                Demo(app, base, quiet, slug=slug)
                for slug in ["latency", *(f"noise-{n}" for n in range(NOISE_AGENCIES))]
            ]
            for demo in demos:
                demo.connect_agency()
                demo.provision(120)
            measured = demos[0]
            location = location_of(measured)
            targets = noise_targets(demos[1:])
            measured.wait_settled(60)

            idle = [
                paced(sample, args.interval, measured, n, location)
                for n in range(args.samples)
            ]
            loaded, behind = [], None
            with Noise(targets, args.rate) as noise:
                time.sleep(2)
                for n in range(args.samples):
                    try:
                        loaded.append(
                            paced(
                                sample,
                                args.interval,
                                measured,
                                args.samples + n,
                                location,
                            )
                        )
                    except FellBehind as exc:
                        behind = f"sample {n + 1} of {args.samples}: {exc}"
                        break
            for demo in demos:
                demo.http.close()
            app.extensions["hub.reconciler"].stop()
            app.extensions["hub.dispatcher"].stop()

    print("contact created -> deal created (hub and sandboxes in one process)")
    print(f"{'':<28}{'p50 ms':>10}{'p99 ms':>10}{'samples':>9}")
    idle_p50, idle_p99 = figures("idle", idle)
    rate = f"at {noise.sent / noise.elapsed:.1f} webhooks/s"
    if behind:
        print(f"{rate}: the worker fell behind the noise ({behind})")
        print(f"idle p50 {idle_p50 * 1000:.0f} ms (aim: p50 under 500 ms idle)")
        return
    busy_p50, busy_p99 = figures(rate, loaded)
    for name, seconds in (("idle", idle), ("loaded", loaded)):
        slowest = sorted(enumerate(seconds, 1), key=lambda item: -item[1])[:3]
        print(
            f"slowest {name} samples: "
            + ", ".join(f"#{n} {s * 1000:.0f} ms" for n, s in slowest)
        )
    print(
        f"ratio loaded/idle: p50 {busy_p50 / idle_p50:.2f}x, "
        f"p99 {busy_p99 / idle_p99:.2f}x (aim: p50 under 500 ms idle)"
    )


if __name__ == "__main__":
    main()
