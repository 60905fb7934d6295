"""The sandboxes' door: mounted only when asked, with a database of their own."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from marshmallow import Schema

from hub import ConnectorInfo, Role, create_app, hookimpl
from hub import sandbox as sandbox_door
from hub.testing.control import SandboxControl
from hub.testing.server import serve, test_config

metadata = sa.MetaData()
accounts = sa.Table(
    "echo_account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100)),
)


def echo_sandbox(app) -> Blueprint:
    engine = sandbox_door.engine(app)
    metadata.create_all(engine)
    bp = Blueprint("echo_sandbox", __name__)

    @bp.post("/_control/accounts")
    def create_account():
        with engine.begin() as db:
            new_id = db.execute(
                accounts.insert().values(name=request.json["name"])
            ).inserted_primary_key[0]
        return jsonify(account=str(new_id), token=f"echo-{new_id}")

    @bp.get("/_control/counters")
    def counters():
        with engine.connect() as db:
            count = db.execute(sa.select(sa.func.count()).select_from(accounts))
            return jsonify(reads=0, writes=count.scalar_one(), by_path={})

    return bp


class Echo:
    @hookimpl
    def register_connectors(self, register):
        register(ConnectorInfo("echo", "Echo", Role.CARE, Schema, sandbox=echo_sandbox))


def test_sandboxes_are_not_mounted_by_default(tmp_path):
    app = create_app(test_config(tmp_path, HUB_PLUGINS=[Echo()]))

    assert "hub.sandbox" not in app.extensions
    answer = app.test_client().post("/_sandbox/echo/_control/accounts", json={})
    assert answer.status_code == 404


def test_a_mounted_sandbox_keeps_its_state_across_restarts(tmp_path):
    config = test_config(tmp_path, HUB_PLUGINS=[Echo()], HUB_SANDBOX=True)

    with serve(lambda url: create_app({**config, "HUB_PUBLIC_URL": url})) as app:
        control = SandboxControl(f"{app.config['HUB_SERVED_URL']}/_sandbox/echo")
        created = control.create_account("Sunrise")
    with serve(lambda url: create_app({**config, "HUB_PUBLIC_URL": url})) as app:
        control = SandboxControl(f"{app.config['HUB_SERVED_URL']}/_sandbox/echo")
        after_restart = control.counters()
        with app.app_context():
            base = sandbox_door.base_url("echo", "HUB_ECHO_BASE_URL", "https://echo")

    assert created == {"account": "1", "token": "echo-1"}
    assert after_restart["writes"] == 1
    assert base == f"{app.config['HUB_SERVED_URL']}/_sandbox/echo"
    assert (tmp_path / "sandbox.sqlite").exists()


def test_a_configured_base_url_wins_over_the_sandbox(tmp_path):
    app = create_app(
        test_config(
            tmp_path,
            HUB_PLUGINS=[Echo()],
            HUB_SANDBOX=True,
            HUB_ECHO_BASE_URL="http://127.0.0.1:9/echo/",
        )
    )

    with app.app_context():
        assert sandbox_door.base_url("echo", "HUB_ECHO_BASE_URL", "x") == (
            "http://127.0.0.1:9/echo"
        )


def test_the_sandbox_is_exempt_from_csrf(tmp_path):
    app = create_app(
        test_config(
            tmp_path, HUB_PLUGINS=[Echo()], HUB_SANDBOX=True, WTF_CSRF_ENABLED=True
        )
    )

    answer = app.test_client().post(
        "/_sandbox/echo/_control/accounts", json={"name": "x"}
    )

    assert answer.status_code == 200


def test_the_sandbox_app_serves_sandboxes_without_the_hub(tmp_path):
    app = sandbox_door.create_sandbox_app(test_config(tmp_path, HUB_PLUGINS=[Echo()]))

    client = app.test_client()

    assert client.get("/_sandbox/echo/_control/counters").status_code == 200
    assert client.post("/hooks/echo/x", json={}).status_code == 404


def test_sandbox_transactions_that_read_then_write_run_one_at_a_time(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    engine = sandbox_door.make_engine(f"sqlite:///{tmp_path / 'ids.sqlite'}")
    metadata.create_all(engine)

    def create(_):
        with sandbox_door.transaction(engine, "echo") as db:
            highest = db.execute(sa.select(sa.func.max(accounts.c.id))).scalar()
            db.execute(accounts.insert().values(id=(highest or 0) + 1, name="x"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(40)))
    with engine.connect() as db:
        ids = db.execute(sa.select(accounts.c.id)).scalars().all()
    engine.dispose()

    assert sorted(ids) == list(range(1, 41))
