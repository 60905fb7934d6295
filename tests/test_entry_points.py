"""The plugin door: a distribution installed in its own virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

TINY = Path(__file__).parent / "distributions" / "carehub-tiny"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def throwaway(tmp_path_factory) -> Path:
    """Return the python of a new virtual environment holding carehub-tiny.

    It sees this environment's packages (the hub among them) through a .pth file,
    so nothing is downloaded and the project's own environment is left untouched.
    """
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    site = subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True,
    ).strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "outer.pth").write_text(f"{ours}\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(TINY),
        ],
        check=True,
    )
    return python


def run(python: Path, tmp_path: Path, plugins: str, code: str):
    env = {
        **os.environ,
        "HUB_INSTANCE_PATH": str(tmp_path),
        "HUB_LOAD_PLUGINS": plugins,
    }
    return subprocess.run(
        [python, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_distribution_loads_through_the_entry_point_group(throwaway, tmp_path):
    result = run(
        throwaway,
        tmp_path,
        "tiny",
        """
        from hub import create_app, Direction, ProspectStatus
        app = create_app()
        connectors = app.extensions["hub.connectors"]
        loaded = connectors.get("tiny")
        print(connectors.names(), loaded.distribution, loaded.version)
        print(connectors.map_status(
            "tiny", None, ProspectStatus.CLOSED_WON, Direction.TO_NATIVE))
        """,
    )

    assert result.returncode == 0, result.stderr
    assert "['tiny'] carehub-tiny 0.0.1" in result.stdout
    assert "tiny-10" in result.stdout


def test_the_project_environment_does_not_have_it():
    from importlib import metadata

    names = {ep.name for ep in metadata.entry_points(group="carehub")}

    assert "tiny" not in names


def test_a_misspelt_hook_stops_the_start_naming_plugin_and_hook(throwaway, tmp_path):
    result = run(
        throwaway,
        tmp_path,
        "tiny,tiny_misspelt",
        "from hub import create_app; create_app()",
    )

    assert result.returncode != 0
    assert "tiny_misspelt" in result.stderr
    assert "provison" in result.stderr


def test_two_connectors_with_one_name_stop_the_start(throwaway, tmp_path):
    result = run(
        throwaway,
        tmp_path,
        "tiny",
        """
        from marshmallow import Schema
        from hub import ConnectorInfo, Role, create_app, hookimpl

        class Impostor:
            @hookimpl
            def register_connectors(self, register):
                register(ConnectorInfo("tiny", "Fake", Role.CARE, Schema))

        create_app({"HUB_PLUGINS": [Impostor()]})
        """,
    )

    assert result.returncode != 0
    assert "Two connectors are named 'tiny'" in result.stderr
    assert "carehub-tiny" in result.stderr


def test_the_sandbox_command_serves_the_sandboxes_alone(throwaway, tmp_path):
    import socket
    import time

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "HUB_INSTANCE_PATH": str(tmp_path),
        "HUB_LOAD_PLUGINS": "tiny",
    }
    flask = [throwaway, "-m", "flask", "--app", "wsgi", "hub", "sandbox"]
    server = subprocess.Popen(
        [*flask, "--port", str(port)],
        cwd=Path(__file__).parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/_sandbox/tiny/_control/counters"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(url, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
        hub_route = requests.get(f"http://127.0.0.1:{port}/hooks/tiny/x", timeout=2)
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert answer.json() == {"reads": 0, "writes": 0, "by_path": {}}
    assert hub_route.status_code in (404, 405)
