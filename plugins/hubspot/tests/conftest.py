"""Fixtures for the HubSpot connector's tests: a clock, a scripted HubSpot, clients."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa
from flask import Flask, jsonify, request

from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.ratelimit import portal_limiter, search_limiter
from carehub_hubspot.runtime import Runtime, install
from hub import create_app
from hub.extensions import db
from hub.models import Agency, Connection, Event, Location
from hub.settings import save_settings
from hub.testing.control import SandboxControl
from hub.testing.server import serve, test_config


class FakeClock:
    """A clock that moves only when a test sleeps; ``on_sleep`` hears every sleep."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self.on_sleep = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.slept.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)


@pytest.fixture
def clock():
    """Return a fake clock starting at a fixed moment."""
    return FakeClock()


def make_runtime(clock: FakeClock, **options) -> Runtime:
    """Return a runtime on the fake clock, with no jitter."""
    options.setdefault("timeout", (2.0, 2.0))
    return Runtime(
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 0.0,
        limiter=portal_limiter(options.pop("share", 0.75), clock=clock),
        search_limiter=search_limiter(clock=clock),
        **options,
    )


class ScriptedHubSpot:
    """A tiny HubSpot stand-in: each path answers from a queue of scripted replies.

    A reply is ``(status, body, headers)``; a path with an empty queue answers 200
    with ``{}``. Every request is recorded as ``(method, path, json)``.
    """

    def __init__(self) -> None:
        self.replies: dict[str, deque] = defaultdict(deque)
        self.requests: list[tuple[str, str, object]] = []
        self.headers: list[dict] = []

    def script(self, path: str, *replies) -> None:
        for reply in replies:
            self.replies[path].append(reply)

    def calls(self, path: str) -> int:
        return sum(1 for _, p, _ in self.requests if p == path)

    def make_app(self, url: str) -> Flask:
        app = Flask("scripted-hubspot")

        @app.route("/<path:path>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
        def answer(path):
            path = "/" + path
            self.requests.append((request.method, path, request.get_json(silent=True)))
            self.headers.append(dict(request.headers))
            queue = self.replies.get(path)
            if not queue:
                return jsonify({})
            status, body, headers = queue.popleft()
            if callable(body):
                body = body()
            response = jsonify(body)
            response.status_code = status
            response.headers.update(headers or {})
            return response

        return app

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()
        self.headers.clear()


@pytest.fixture(scope="module")
def scripted_server():
    """Serve one scripted HubSpot for a test module."""
    hubspot = ScriptedHubSpot()
    with serve(hubspot.make_app) as app:
        hubspot.url = app.config["HUB_SERVED_URL"]
        yield hubspot


@pytest.fixture
def scripted(scripted_server):
    """Return the module's scripted HubSpot, emptied for this test."""
    scripted_server.reset()
    return scripted_server


@pytest.fixture
def make_client(clock):
    """Return a factory of clients on the fake clock; closes their sessions after."""
    made = []

    def make(base_url: str, token: str = "pat-na1-test-token", **options):
        rt = make_runtime(clock, **options)
        made.append(rt)
        return HubSpotClient(token, base_url=base_url, limiter_key="portal:1", rt=rt)

    yield make
    for rt in made:
        rt.close()


# -- the hub with the HubSpot sandbox ----------------------------------------------


SANDBOX_PATH = "/_sandbox/hubspot"


@pytest.fixture(scope="module")
def hub_app(tmp_path_factory):
    """Serve the hub with the HubSpot connector and its sandbox for a test module."""
    tmp = tmp_path_factory.mktemp("hub")

    def make(url):
        return create_app(
            test_config(
                tmp,
                HUB_SANDBOX=True,
                HUB_LOAD_ENTRY_POINTS=True,
                HUB_LOAD_PLUGINS=["hubspot"],
                HUB_PUBLIC_URL=url,
            )
        )

    with serve(make) as app:
        with app.app_context():
            db.create_all()
        yield app
        with app.app_context():
            db.engine.dispose()


class Reports:
    """Collects what ``provision`` reports, keeping each step's last word."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, step: str, status: str, detail: str) -> None:
        self.calls.append((step, str(status), detail))

    def status(self, step: str) -> str:
        return [s for name, s, _ in self.calls if name == step][-1]

    def detail(self, step: str) -> str:
        return [d for name, _, d in self.calls if name == step][-1]

    def final(self) -> dict[str, str]:
        return {step: self.status(step) for step, _, _ in self.calls}


@dataclass
class Portal:
    """One sandbox portal and the hub's agency and connection for it."""

    token: str
    portal_id: str
    agency_id: int
    connection_id: int


class World:
    """The hub, its HubSpot sandbox, and the fake clock both run on."""

    def __init__(self, app, clock: FakeClock) -> None:
        self.app = app
        self.url = app.config["HUB_SERVED_URL"]
        self.sandbox_url = self.url + SANDBOX_PATH
        self.control = SandboxControl(self.sandbox_url)
        self.clock = clock
        self.api_session = requests.Session()
        self.rt = install(app, make_runtime(clock))
        clock.on_sleep = self.control.advance_clock

    def close(self) -> None:
        self.clock.on_sleep = None
        self.rt.close()
        self.control.session.close()
        self.api_session.close()

    def new_portal(
        self,
        *,
        tier: str = "professional",
        operations_hub: bool = True,
        scopes: list[str] | None = None,
        locations: tuple[tuple[str, str], ...] = (("loc-1", "Downtown"),),
        app_id: str | None = None,
        client_secret: str | None = None,
        **account_options,
    ) -> Portal:
        extra = {"operations_hub": operations_hub, **account_options}
        if scopes is not None:
            extra["scopes"] = scopes
        account = self.control.create_account(
            f"agency-{uuid.uuid4().hex[:6]}", tier, **extra
        )
        if app_id and client_secret:
            self.control.verb(
                "app_secret", {"app_id": app_id, "client_secret": client_secret}
            )

        with self.app.app_context():
            slug = f"agency-{uuid.uuid4().hex[:8]}"
            agency = Agency(slug=slug, name=slug.title(), settings={})
            for remote_id, name in locations:
                agency.locations.append(Location(remote_id=remote_id, name=name))
            connection = Connection(agency=agency, connector="hubspot", settings={})
            info = self.app.extensions["hub.connectors"].info("hubspot")
            raw = {"access_token": account["token"]}
            if app_id:
                raw["app_id"] = app_id
            if client_secret:
                raw["client_secret"] = client_secret
            save_settings(connection, info, raw)
            db.session.add(connection)
            db.session.commit()
            return Portal(
                token=account["token"],
                portal_id=str(account["portal_id"]),
                agency_id=agency.id,
                connection_id=connection.id,
            )

    def hook(self, name: str, portal: Portal, **kwargs):
        """Call one hook of the connector through the hub's facade, and commit."""
        with self.app.app_context():
            connection = db.session.get(Connection, portal.connection_id)
            connectors = self.app.extensions["hub.connectors"]
            method = getattr(connectors, name)
            with_agency = (
                "provision",
                "receive_event",
                "apply_change",
                "apply_changes",
                "connect",
            )
            if name in with_agency:
                result = method("hubspot", connection.agency, connection, **kwargs)
            else:
                result = method("hubspot", connection, **kwargs)
            db.session.commit()
            return result

    def provision(self, portal: Portal) -> Reports:
        reports = Reports()
        self.hook("provision", portal, report=reports)
        return reports

    def state(self, portal: Portal) -> dict:
        with self.app.app_context():
            return dict(db.session.get(Connection, portal.connection_id).state)

    def webhook_url(self, portal: Portal, purpose: str) -> str:
        with self.app.app_context():
            connection = db.session.get(Connection, portal.connection_id)
            url = connection.webhook_url(purpose)
            db.session.commit()
            return url

    def api(self, portal: Portal, method: str, path: str, **kwargs):
        """Call the sandbox's HubSpot API as the portal's user would; return JSON."""
        response = self.api_session.request(
            method,
            self.sandbox_url + path,
            headers={"Authorization": f"Bearer {portal.token}"},
            timeout=30,
            **kwargs,
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def writes(self, portal: Portal) -> int:
        return self.control.counters(account=portal.portal_id)["writes"]

    def events(self, portal: Portal) -> list[Event]:
        with self.app.app_context():
            return list(
                db.session.scalars(
                    sa.select(Event).where(Event.connection_id == portal.connection_id)
                )
            )


@pytest.fixture
def world(hub_app):
    """Return the module's hub and sandbox, on a fake clock set to the sandbox's."""
    now_ms = SandboxControl(hub_app.config["HUB_SERVED_URL"] + SANDBOX_PATH)
    with now_ms.session:
        now = now_ms.session.get(now_ms.base_url + "/_control/clock", timeout=10)
    clock = FakeClock(start=now.json()["now_ms"] / 1000)
    world = World(hub_app, clock)
    yield world
    world.close()
