"""Fixtures for the HubSpot connector's tests: a clock, a scripted HubSpot, clients."""

from __future__ import annotations

import threading
from collections import defaultdict, deque

import pytest
from flask import Flask, jsonify, request

from carehub_hubspot.client import HubSpotClient
from carehub_hubspot.ratelimit import portal_limiter, search_limiter
from carehub_hubspot.runtime import Runtime
from hub.testing.server import serve


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
        limiter=portal_limiter(clock, options.pop("share", 0.75)),
        search_limiter=search_limiter(clock, 0.75),
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
