"""What a connector tells the kit about itself: the class its conformance test
module subclasses, and the defaults of everything it may declare."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from hub import create_app
from hub.canonical import Inbound, Prospect, ProspectStatus
from hub.extensions import db
from hub.testing.kit.world import Handle, KitWorld
from hub.testing.server import serve, test_config

#: The suites, in the order they run.
SUITES = ("describe", "connect", "provision", "receive", "status", "records", "limits")

#: The name of the marker each check carries: ``carehub_suite(suite, check)``.
MARKER = "carehub_suite"


def check(suite: str, name: str):
    """Return a decorator that files a test method under a suite and a check."""
    if suite not in SUITES:
        raise ValueError(f"{suite!r} is not a suite; use one of {', '.join(SUITES)}.")
    return getattr(pytest.mark, MARKER)(suite, name)


def checks_of(kit_class: type) -> set[str]:
    """Return the ``suite.check`` names of every check a kit class runs."""
    found = set()
    for name in dir(kit_class):
        for mark in getattr(getattr(kit_class, name), "pytestmark", []):
            if mark.name == MARKER:
                found.add(".".join(mark.args))
    return found


class NotDeclared(AssertionError):
    """A suite needs something the connector's kit class does not declare."""


def not_declared(what: str, suite: str, how: str) -> NotDeclared:
    """Return the failure for a missing declaration, saying how to add it."""
    return NotDeclared(
        f"The {suite} suite needs {what}. Add {how} to your kit class, or skip the "
        f"suite with a reason: skip = {{{suite!r}: 'why it does not apply'}}."
    )


class Declaration:
    """The defaults of a connector's kit class; override what your connector needs.

    The only thing every connector must declare is ``connector`` and
    :meth:`good_settings`; each suite says what else it needs when it runs.
    """

    #: The connector's registered name, such as ``"hubspot"``.
    connector: str = ""
    #: The entry-point name to load (``HUB_LOAD_PLUGINS``); the connector's name
    #: when left empty.
    plugin: str = ""
    #: Suites or checks that do not apply, each with the reason shown in the report:
    #: ``{"limits": "...", "receive.stale": "..."}``.
    skip: dict[str, str] = {}
    #: Extra settings for the hub under test, such as a shorter client timeout.
    config: dict[str, Any] = {}
    #: Extra fields for ``POST _control/accounts``, such as ``{"tier": "pro"}``.
    account_options: dict[str, Any] = {}
    #: The agency's locations as ``(remote_id, name)`` pairs, for connectors that
    #: need them before ``connect`` or ``provision`` found any.
    agency_locations: tuple[tuple[str, str], ...] = ()
    #: The kind of remote object that holds a prospect, such as ``"contact"``;
    #: the first kind ``apply_change`` answers when left empty.
    record_kind: str = ""
    #: A native status value no status maps from.
    unknown_native: Any = "carehub-kit-no-such-status"
    #: The fault that makes the sandbox do a create but lose its answer, as
    #: ``POST _control/faults`` takes it: ``{"latency_ms": ..., "path_prefix": ...}``.
    lost_answer_fault: dict[str, Any] | None = None
    #: Where the limits suite injects its 429 and 5xx answers; every path when None.
    fault_path_prefix: str | None = None

    # -- settings -----------------------------------------------------------------

    def good_settings(self, account: dict[str, Any]) -> dict[str, Any]:
        """Return settings that open the sandbox account ``POST _control/accounts``
        answered."""
        raise NotDeclared(
            f"{type(self).__name__} does not say how to connect: add "
            "good_settings(self, account), returning the settings that open the "
            "sandbox account POST _control/accounts answered."
        )

    def bad_settings(self, account: dict[str, Any]) -> list[dict[str, Any]]:
        """Return settings the remote refuses, such as a wrong secret."""
        raise not_declared("bad settings", "connect", "bad_settings(self, account)")

    def counter_account(self, account: dict[str, Any]) -> str | None:
        """Return the account's key in ``GET _control/counters?account=``."""
        return account.get("account")

    # -- what the suites make ------------------------------------------------------

    def make_inbound(self, kit: KitWorld, handle: Handle, variant: str) -> Inbound:
        """Return a webhook as the vendor would send it to the connection.

        ``variant`` is ``valid``, ``tampered`` (the body changed after signing),
        ``stale`` (signed too long ago) or ``malformed`` (verified, but not
        parseable).
        """
        raise not_declared(
            "a way to make webhooks",
            "receive",
            "make_inbound(self, kit, handle, variant)",
        )

    def break_provisioning(self, kit: KitWorld, handle: Handle) -> None:
        """Remove one provisioned object in the sandbox, as an admin might."""
        raise not_declared(
            "a way to undo a provisioned step",
            "provision",
            "break_provisioning(self, kit, handle)",
        )

    def sample_prospect(self) -> Prospect:
        """Return a prospect the records suites write, unique to one test."""
        tag = uuid.uuid4().hex[:8]
        return Prospect(
            first_name="Kit",
            last_name=f"Sample{tag}",
            email=f"kit-{tag}@example.org",
            city="Springfield",
            status=ProspectStatus.NEW_LEAD,
        )

    def other_ids(self, link_key: str) -> dict[str, str]:
        """Return what the other side holds for a person the records suite makes."""
        return {}

    def setup_world(self, kit: KitWorld) -> None:
        """Prepare the served hub before the suites run, such as a fast clock."""

    def teardown_world(self, kit: KitWorld) -> None:
        """Undo :meth:`setup_world`."""

    # -- the fixtures -----------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def kit(cls, tmp_path_factory):
        """Serve the hub with this connector and its sandbox; yield a ``KitWorld``."""
        declaration = cls()
        if not declaration.connector:
            raise NotDeclared(
                f"{cls.__name__} names no connector; set connector = 'name'."
            )
        tmp = tmp_path_factory.mktemp(f"kit-{declaration.connector}")

        def make(url):
            settings = {
                "HUB_SANDBOX": True,
                "HUB_LOAD_ENTRY_POINTS": True,
                "HUB_LOAD_PLUGINS": [declaration.plugin or declaration.connector],
                "HUB_PUBLIC_URL": url,
                **declaration.config,
            }
            return create_app(test_config(tmp, **settings))

        with serve(make) as app:
            with app.app_context():
                db.create_all()
            world = KitWorld(app, declaration)
            declaration.setup_world(world)
            try:
                yield world
            finally:
                declaration.teardown_world(world)
                world.close()
                with app.app_context():
                    db.engine.dispose()

    @pytest.fixture(autouse=True)
    def _suite_gate(self, request):
        """Skip a check whose suite the connector skips, showing its reason."""
        marker = request.node.get_closest_marker(MARKER)
        if marker is None:
            return
        suite, name = marker.args
        known = set(SUITES) | checks_of(type(self))
        for key in self.skip:
            if key not in known:
                pytest.fail(
                    f"skip names {key!r}, which is no suite or check; use one of "
                    f"{', '.join(SUITES)}, or 'suite.check' such as 'receive.stale'.",
                    pytrace=False,
                )
        key = f"{suite}.{name}" if f"{suite}.{name}" in self.skip else suite
        reason = self.skip.get(key)
        if reason is None:
            return
        if not str(reason).strip():
            pytest.fail(
                f"Skipping {suite} needs a written reason; give one in skip.",
                pytrace=False,
            )
        pytest.skip(f"{key}: {reason}")


def wait(seconds: float) -> None:
    """Wait in real time, for a sandbox still working on a slowed request."""
    time.sleep(seconds)
