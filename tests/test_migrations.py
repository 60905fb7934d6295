"""Migrations and models agree, and the migrations go up, down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from hub import create_app
from hub.extensions import db
from hub.testing.server import test_config


def test_autogenerate_finds_no_difference_after_upgrade(tmp_path):
    app = create_app(test_config(tmp_path))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            differences = compare_metadata(context, db.metadata)

    assert differences == []


def test_upgrade_downgrade_upgrade(tmp_path):
    app = create_app(test_config(tmp_path))
    with app.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        downgrade(revision="base")
        after_down = set(sa.inspect(db.engine).get_table_names())
        upgrade()
        after_up = set(sa.inspect(db.engine).get_table_names())

    assert {"agency", "connection", "event", "sync_link"} <= tables
    assert after_down == {"alembic_version"}
    assert after_up == tables
