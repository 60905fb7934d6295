"""The ``flask hub`` commands."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from marshmallow import Schema
from werkzeug.security import check_password_hash

from hub import ConnectorInfo, Role, create_app, hookimpl
from hub.extensions import db
from hub.models import Agency, User
from hub.testing.server import test_config


def make(tmp_path, paper):
    app = create_app(test_config(tmp_path, HUB_PLUGINS=[paper]))
    with app.app_context():
        db.create_all()
    return app


def test_connectors_lists_each_connector_and_its_hooks(tmp_path, paper):
    result = make(tmp_path, paper).test_cli_runner().invoke(args=["hub", "connectors"])

    assert result.exit_code == 0
    assert "paper (Paper CRM, sales)" in result.output
    assert "apply_change, connect, fetch_changes" in result.output
    assert "webhooks: contact.created, contact.changed" in result.output


def test_create_agency_is_idempotent(tmp_path, paper):
    runner = make(tmp_path, paper).test_cli_runner()

    first = runner.invoke(args=["hub", "create-agency", "sunrise", "--name", "Sun"])
    second = runner.invoke(args=["hub", "create-agency", "sunrise"])

    assert "Created the agency 'sunrise'" in first.output
    assert "exists already" in second.output


def test_create_admin_hashes_the_password(tmp_path, paper):
    app = make(tmp_path, paper)
    runner = app.test_cli_runner()
    runner.invoke(args=["hub", "create-agency", "sunrise"])

    result = runner.invoke(
        args=["hub", "create-admin", "Ann@Sunrise.example", "--agency", "sunrise"],
        input="correct horse battery\ncorrect horse battery\n",
    )

    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(sa.select(User)).one()
        assert user.email == "ann@sunrise.example"
        assert user.agency == db.session.scalars(sa.select(Agency)).one()
        assert "correct horse" not in user.password_hash
        assert check_password_hash(user.password_hash, "correct horse battery")


def test_create_admin_refuses_an_unknown_agency(tmp_path, paper):
    runner = make(tmp_path, paper).test_cli_runner()

    result = runner.invoke(
        args=["hub", "create-admin", "a@b.example", "--agency", "nowhere"],
        input="correct horse battery\ncorrect horse battery\n",
    )

    assert result.exit_code != 0
    assert "There is no agency 'nowhere'" in result.output


class Booth:
    """A connector whose sandbox answers account requests with what it was asked."""

    @hookimpl
    def register_connectors(self, register):
        register(
            ConnectorInfo(
                "booth",
                "Booth",
                Role.SALES,
                Schema,
                sandbox=self.sandbox,
                sandbox_account={"tier": "gold"},
            )
        )

    @staticmethod
    def sandbox(app):
        bp = Blueprint("booth_sandbox", __name__)

        @bp.post("/_control/accounts")
        def accounts():
            return jsonify(token="booth-token", asked=request.json)

        return bp


def test_dev_setup_creates_the_agency_admin_and_sandbox_accounts_once(tmp_path):
    app = create_app(test_config(tmp_path, HUB_PLUGINS=[Booth()], HUB_SANDBOX=True))
    with app.app_context():
        db.create_all()
    runner = app.test_cli_runner()

    first = runner.invoke(args=["hub", "dev-setup"])
    second = runner.invoke(args=["hub", "dev-setup"])

    assert first.exit_code == 0, first.output
    assert "admin@sunrise.example / " in first.output
    assert "token: booth-token" in first.output
    assert "'tier': 'gold'" in first.output
    assert first.output == second.output
    with app.app_context():
        assert db.session.scalars(sa.select(User)).one().agency.slug == "sunrise"
