"""The kit itself: skips need reasons, the report shows them, a bug fails its suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hub.testing.plugin import verdict

pytestmark = pytest.mark.slow

SUITES = ("describe", "connect", "provision", "receive", "status", "records", "limits")


def run_kit(tmp_path, body: str) -> str:
    """Run a test module holding a kit class for ClearCare; return what pytest said."""
    module = tmp_path / "test_kit_case.py"
    module.write_text(
        "from hub.testing.kit import ConnectorKit\n\n\n" + textwrap.dedent(body)
    )
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", module.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return ran.stdout


def skipping(*suites: str) -> str:
    return repr({suite: f"No {suite} here." for suite in suites})


def test_skipped_suites_show_their_reasons_and_a_bare_skip_fails(tmp_path):
    others = skipping(*SUITES[1:])
    said = run_kit(
        tmp_path,
        f"""
        class TestCase(ConnectorKit):
            connector = "clearcare"
            skip = {{**{others}, "describe": "  "}}
        """,
    )

    assert "Skipping describe needs a written reason" in said
    assert "describe   FAILED" in said
    assert "connect    2 skipped (No connect here.)" in said
    assert "limits     3 skipped (No limits here.)" in said


def test_a_skip_naming_no_suite_fails(tmp_path):
    said = run_kit(
        tmp_path,
        f"""
        class TestCase(ConnectorKit):
            connector = "clearcare"
            skip = {{**{skipping(*SUITES)}, "receive.stal": "Spelt wrong."}}
        """,
    )

    assert "skip names 'receive.stal', which is no suite or check" in said


def test_a_kit_class_without_good_settings_fails_saying_what_to_add(tmp_path):
    said = run_kit(
        tmp_path,
        f"""
        class TestCase(ConnectorKit):
            connector = "clearcare"
            skip = {skipping(*SUITES[1:])}
        """,
    )

    assert "TestCase does not say how to connect: add good_settings" in said
    assert "describe   FAILED" in said


def test_a_connector_that_accepts_bad_settings_fails_connect(tmp_path):
    said = run_kit(
        tmp_path,
        f"""
        class TestCase(ConnectorKit):
            connector = "clearcare"
            skip = {skipping("describe", *SUITES[2:])}

            def good_settings(self, account):
                return {{
                    "client_id": account["client_id"],
                    "client_secret": account["client_secret"],
                    "agency_id": account["agency_id"],
                }}

            def bad_settings(self, account):
                return self.good_settings(account)
        """,
    )

    assert "connect with bad settings returned Connected(" in said
    assert "it must raise hub.errors.HubError" in said
    assert "connect    FAILED bad_settings, 1 passed" in said


@pytest.mark.parametrize(
    ("results", "line"),
    (
        ({"a": ("passed", ""), "b": ("passed", "")}, "2 passed"),
        (
            {"a": ("failed", ""), "b": ("passed", ""), "c": ("skipped", "why")},
            "FAILED a, 1 passed, 1 skipped (why)",
        ),
    ),
    ids=("passed", "mixed"),
)
def test_each_suite_gets_one_line(results, line):
    assert verdict(results) == line
