"""``flask hub new-connector`` writes a distribution the kit runs against."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.errors import BadRequest
from hub.scaffold import write_connector

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent.parent


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory, throwaway):
    """Write carehub-sample with the command, install it, run its tests; return the
    folder and the finished pytest run."""
    out = tmp_path_factory.mktemp("out")
    made = throwaway.run(
        [
            "-m",
            "flask",
            "--app",
            "hub",
            "hub",
            "new-connector",
            "sample",
            "--output",
            out,
        ],
        cwd=out,
        HUB_LOAD_PLUGINS="none",
    )
    assert made.returncode == 0, made.stderr
    folder = out / "carehub-sample"
    throwaway.install(folder)
    ran = throwaway.run(
        ["-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"],
        cwd=folder,
        HUB_LOAD_PLUGINS="sample",
    )
    return folder, ran


def test_the_command_writes_a_distribution(scaffolded):
    folder, _ = scaffolded

    setup = (folder / "setup.cfg").read_text()
    assert "name = carehub-sample" in setup
    assert "sample = carehub_sample.plugin" in setup
    assert (folder / "carehub_sample" / "sandbox.py").exists()
    assert (
        "class TestSampleConformance(ConnectorKit)"
        in (folder / "tests" / "test_conformance.py").read_text()
    )


def test_the_kit_runs_against_it_and_fails_clearly(scaffolded):
    _, ran = scaffolded
    summary = ran.stdout.strip().splitlines()[-1]

    assert "failed" in summary and "passed" in summary, ran.stdout
    assert "error" not in summary, ran.stdout
    assert re.search(r"describe +5 passed", ran.stdout), ran.stdout
    assert "does not implement connect yet" in ran.stdout
    assert "before this suite, and that failed: PluginError" in ran.stdout
    assert re.search(r"connect +FAILED", ran.stdout)
    assert re.search(r"limits +FAILED", ran.stdout)


def test_the_written_code_is_formatted_and_lint_clean(tmp_path):
    folder = write_connector("lint_me", tmp_path, label="Lint Me")
    config = ["--config", str(ROOT / "pyproject.toml")]

    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *config, str(folder)],
        capture_output=True,
        text=True,
    )
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *config, str(folder)],
        capture_output=True,
        text=True,
    )

    assert checked.returncode == 0, checked.stdout
    assert formatted.returncode == 0, formatted.stdout


def test_a_name_that_cannot_be_a_connector_is_refused(tmp_path):
    with pytest.raises(BadRequest) as refused:
        write_connector("My CRM", tmp_path)

    assert "lower-case" in refused.value.message


def test_an_existing_folder_is_left_alone(tmp_path):
    (tmp_path / "carehub-sample").mkdir()

    with pytest.raises(BadRequest) as refused:
        write_connector("sample", tmp_path)

    assert "exists already" in refused.value.message


def test_a_care_connector_gets_its_role_and_label(tmp_path):
    folder = write_connector("carelog", tmp_path, label="CareLog", role="care")

    plugin = (folder / "carehub_carelog" / "plugin.py").read_text()
    assert "role=Role.CARE," in plugin
    assert 'label="CareLog",' in plugin
    assert "class CarelogSettings(Schema):" in plugin
