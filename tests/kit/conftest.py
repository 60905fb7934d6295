"""Fixtures for the kit's tests: a throwaway virtual environment to install
connector distributions into, and a way to run commands in it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

import hub

ROOT = Path(__file__).parent.parent.parent


@dataclass
class Throwaway:
    """A virtual environment that sees this one's packages but installs its own."""

    python: Path
    home: Path

    def install(self, folder: Path) -> None:
        """Install a distribution from a folder, without downloading anything."""
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                self.python,
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                str(folder),
            ],
            check=True,
            capture_output=True,
        )

    def env(self, **extra: str) -> dict[str, str]:
        """Return the environment commands in it run with."""
        return {
            **os.environ,
            "HUB_INSTANCE_PATH": str(self.home / "instance"),
            "PYTHONDONTWRITEBYTECODE": "1",
            **extra,
        }

    def run(self, args: list, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
        """Run the environment's python with ``args``; return the finished process."""
        return subprocess.run(
            [self.python, *args],
            cwd=cwd,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="session")
def throwaway(tmp_path_factory) -> Throwaway:
    """Return a throwaway environment that sees the hub and this one's packages.

    A .pth file adds this environment's site-packages and the hub's folder, so
    nothing is downloaded and the project's own environment is left untouched.
    """
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    site = subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True,
    ).strip()
    hub_folder = Path(hub.__file__).parent.parent
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "outer.pth").write_text(f"{hub_folder}\n{ours}\n")

    return Throwaway(python=python, home=tmp_path_factory.mktemp("home"))
