"""The demo, run as a user runs it: a command in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))

pytestmark = pytest.mark.slow


def demo(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("HUB_")
    }
    env["HUB_INSTANCE_PATH"] = str(tmp_path / "instance")
    return subprocess.run(
        [FLASK, "--app", "wsgi", "hub", "demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_the_demo_syncs_every_contact_and_says_so(tmp_path):
    database = tmp_path / "demo.sqlite"

    done = demo(tmp_path, "--contacts", "3", "--database", str(database))

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "in sync: 3/3"
    table = [line for line in lines if line.endswith("  yes")]
    assert len(table) == 3
    # What it prints is the demo's own story, not a log line for each request.
    assert "HTTP/1.1" not in done.stdout + done.stderr
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        links = conn.execute(sa.text("SELECT count(*) FROM sync_link")).scalar()
        agency = conn.execute(sa.text("SELECT slug FROM agency")).scalar()
    engine.dispose()
    assert (links, agency) == (3, "demo")


def test_the_demo_refuses_a_database_that_holds_data(tmp_path):
    database = tmp_path / "full.sqlite"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE agency (id INTEGER, slug TEXT)"))
        conn.execute(sa.text("INSERT INTO agency VALUES (1, 'sunrise')"))
    engine.dispose()

    done = demo(tmp_path, "--contacts", "1", "--database", str(database))

    assert done.returncode != 0
    assert "already holds data" in done.stderr
    assert "in sync" not in done.stdout
