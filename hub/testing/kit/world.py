"""The world a conformance suite runs in: one served hub, one connector, its sandbox."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from hub.errors import HubError, RemoteError
from hub.extensions import db
from hub.models import Agency, Connection, Location
from hub.settings import save_settings
from hub.sync.provisioning import keep_connected, store_agency_facts
from hub.testing.control import SandboxControl

#: The hooks that take the agency besides the connection.
AGENCY_HOOKS = (
    "connect",
    "provision",
    "receive_event",
    "apply_change",
    "apply_changes",
)


@dataclass
class Handle:
    """One sandbox account and the hub's agency and connection for it."""

    account: dict[str, Any]
    agency_id: int
    connection_id: int
    #: The account's key in the control API's counters.
    counter_key: str | None


@dataclass
class Reports:
    """What ``provision`` reported, in order, and each step's last word."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, step: str, status: str, detail: str = "") -> None:
        self.calls.append((step, str(status), detail))

    def final(self) -> dict[str, str]:
        """Return each reported step's last status."""
        return {step: status for step, status, _ in self.calls}

    def detail(self, step: str) -> str:
        """Return the last detail reported for a step."""
        return [d for name, _, d in self.calls if name == step][-1]


class KitWorld:
    """Drives one connector through the hub's facade and its sandbox's control API.

    :param declaration: the connector's kit class instance, which says how to make
        settings from a sandbox account.
    """

    def __init__(self, app: Flask, declaration: Any) -> None:
        self.app = app
        self.declaration = declaration
        self.name = declaration.connector
        self.url = app.config["HUB_SERVED_URL"]
        self.sandbox_url = f"{self.url}/_sandbox/{self.name}"
        self.control = SandboxControl(self.sandbox_url)
        self.connectors = app.extensions["hub.connectors"]

    def close(self) -> None:
        """Close the control client's HTTP session."""
        self.control.session.close()

    @property
    def info(self):
        """Return the connector's ``ConnectorInfo``."""
        return self.connectors.info(self.name)

    # -- agencies and connections -------------------------------------------------

    def new_account(self) -> dict[str, Any]:
        """Create a sandbox account; return its answer (the credentials)."""
        return self.control.create_account(
            f"Kit agency {uuid.uuid4().hex[:6]}", **self.declaration.account_options
        )

    def new_connection(
        self, settings: dict[str, Any] | None = None, account: dict | None = None
    ) -> Handle:
        """Store an agency connected to a sandbox account, with good settings unless
        others are given; return its handle."""
        account = account if account is not None else self.new_account()
        raw = self.declaration.good_settings(account) if settings is None else settings

        with self.app.app_context():
            slug = f"kit-{uuid.uuid4().hex[:10]}"
            agency = Agency(slug=slug, name=slug.title(), settings={})
            for remote_id, name in self.declaration.agency_locations:
                agency.locations.append(Location(remote_id=remote_id, name=name))
            connection = Connection(agency=agency, connector=self.name, settings={})
            save_settings(connection, self.info, raw)
            db.session.add(connection)
            db.session.commit()
            return Handle(
                account=account,
                agency_id=agency.id,
                connection_id=connection.id,
                counter_key=self.declaration.counter_account(account),
            )

    def stored(self, handle: Handle) -> dict[str, Any]:
        """Return the connection's plain settings, state and all settings."""
        with self.app.app_context():
            connection = db.session.get(Connection, handle.connection_id)
            return {
                "settings": dict(connection.settings or {}),
                "state": dict(connection.state or {}),
                "all": connection.all_settings(),
                "credentials_encrypted": connection.credentials_encrypted or "",
            }

    # -- hooks ------------------------------------------------------------------

    def hook(self, name: str, handle: Handle, **kwargs: Any) -> Any:
        """Call one hook through the hub's facade in an app context, then commit.

        What the connector wrote on its connection is committed even when the hook
        fails, as the sync engine does, so a retry finds the intent of a create.
        """
        with self.app.app_context():
            connection = db.session.get(Connection, handle.connection_id)
            method = getattr(self.connectors, name)
            try:
                if name in AGENCY_HOOKS:
                    result = method(self.name, connection.agency, connection, **kwargs)
                else:
                    result = method(self.name, connection, **kwargs)
            finally:
                db.session.commit()
            return result

    def retried(
        self,
        name: str,
        handle: Handle,
        tries: int = 6,
        pause: float = 0.0,
        **kwargs: Any,
    ):
        """Call a hook as the sync engine would: again after a retryable error,
        with the sandbox's clock moved on by the wait the error asked for.

        :param pause: seconds to wait in real time before trying again, as the
            engine's retry schedule would, for a slowed request to finish.
        :return: the hook's result and the retryable errors met on the way.
        """
        errors: list[RemoteError] = []
        while True:
            try:
                return self.hook(name, handle, **kwargs), errors
            except RemoteError as exc:
                if not exc.retryable or len(errors) + 1 >= tries:
                    raise
                errors.append(exc)
                if exc.retry_after:
                    self.control.advance_clock(exc.retry_after)
                time.sleep(pause)

    def connect(self, handle: Handle):
        """Run ``connect`` and keep what it found, as the admin pages do."""
        with self.app.app_context():
            connection = db.session.get(Connection, handle.connection_id)
            agency = connection.agency
            try:
                found = self.connectors.connect(self.name, agency, connection)
            except HubError:
                db.session.rollback()
                raise
            keep_connected(agency, connection, found)
            db.session.commit()
            return found

    def provision(self, handle: Handle) -> Reports:
        """Run ``provision`` as the worker does; return what it reported."""
        reports = Reports()
        with self.app.app_context():
            connection = db.session.get(Connection, handle.connection_id)
            agency = connection.agency
            try:
                facts = self.connectors.provision(
                    self.name, agency, connection, reports
                )
                if facts is not None:
                    store_agency_facts(agency, facts)
            finally:
                db.session.commit()
        return reports

    def ready(self, handle: Handle) -> None:
        """Connect the connection, and provision it when the connector has steps.

        A failure here fails the check with a message naming the hook, since the
        suite itself never ran.
        """
        try:
            self.connect(handle)
            if not self.info.provision_steps:
                return
            reports = self.provision(handle)
        except HubError as exc:
            pytest.fail(
                "The kit connects (and provisions) a connection before this suite, "
                f"and that failed: {type(exc).__name__}: {exc.message}",
                pytrace=False,
            )
        failed = {
            step: status
            for step, status in reports.final().items()
            if status not in ("done", "manual", "unavailable", "skipped")
        }
        assert not failed, f"Provisioning did not finish: {failed}"

    # -- the sandbox ------------------------------------------------------------

    def counters(self, handle: Handle | None = None) -> dict[str, Any]:
        """Return the sandbox's counters for the handle's account, or for all."""
        key = handle.counter_key if handle is not None else None
        return self.control.counters(account=key)

    def writes(self, handle: Handle) -> int:
        """Return the writes the handle's account made in the sandbox."""
        return self.counters(handle)["writes"]

    def requests(self, handle: Handle | None = None) -> int:
        """Return every request counted, by path, for the account or for all."""
        return sum(self.counters(handle)["by_path"].values())
