"""docs/connectors.md's walk-through, run from the page's own text.

Console blocks are run command by command (``$ …`` lines; the lines after a command
must appear in its output), ``python file=PATH`` blocks are written to PATH,
``python hook=PATH`` blocks replace the hooks of that name in PATH and add their
imports, and ``python run`` blocks are run as scripts.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent.parent
DOC = ROOT / "docs" / "connectors.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.M | re.S)


def blocks() -> list[tuple[str, dict[str, str], str]]:
    """Return each fenced block at the start of a line: language, options, text."""
    found = []
    for language, info, text in FENCE.findall(DOC.read_text()):
        options = dict(
            item.split("=", 1) if "=" in item else (item, "") for item in info.split()
        )
        found.append((language, options, text))
    return found


def merge_hooks(path: Path, code: str) -> None:
    """Replace the hooks ``code`` defines in a plugin module, and add its imports."""
    lines = code.strip("\n").splitlines()
    imports = [line for line in lines if line.startswith(("from ", "import "))]
    body = "\n".join(line for line in lines if line not in imports).strip("\n")
    source = path.read_text()
    for name in re.findall(r"^def (\w+)\(", body, re.M):
        hook = re.compile(rf"^@hookimpl\ndef {name}\(.*?(?=\n\n\n|\Z)", re.M | re.S)
        assert hook.search(source), f"{path} has no hook {name} to replace."
        own = re.search(
            rf"^@hookimpl\ndef {name}\(.*?(?=\n\n\n|\Z)", body, re.M | re.S
        ).group(0)
        source = hook.sub(lambda _, text=own: text, source)
    last = max(m.end() for m in re.finditer(r"^(from|import) .*$", source, re.M))
    source = source[:last] + "\n" + "\n".join(imports) + source[last:]
    path.write_text(source)


class Walk:
    """Runs the walk-through's steps in a throwaway environment."""

    def __init__(self, throwaway, checkout: Path) -> None:
        self.throwaway = throwaway
        self.cwd = checkout
        self.env: dict[str, str] = {}
        self.outputs: list[str] = []

    def command(self, line: str, expected: list[str]) -> None:
        words = shlex.split(line)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            self.env[name] = value
            return
        if words[0] == "cd":
            self.cwd = self.cwd / words[1]
            return
        if words[:2] == ["pip", "install"]:
            self.throwaway.install(self.cwd / words[-1])
            return
        if words[0] == "flask":
            ran = self.throwaway.run(["-m", "flask", *words[1:]], self.cwd, **self.env)
            assert ran.returncode == 0, ran.stderr
        else:
            assert words[0] == "pytest", f"The walk-through runs {words[0]!r}."
            ran = self.throwaway.run(["-m", "pytest", *words[1:]], self.cwd, **self.env)
        self.outputs.append(ran.stdout)
        for wanted in expected:
            assert wanted.strip() in ran.stdout, (
                f"{line!r} did not print {wanted.strip()!r}:\n{ran.stdout}"
            )

    def console(self, text: str) -> None:
        steps: list[tuple[str, list[str]]] = []
        for line in text.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif line.strip() and steps:
                steps[-1][1].append(line)
        for line, expected in steps:
            self.command(line, expected)

    def script(self, code: str) -> str:
        path = self.cwd / "walk_script.py"
        path.write_text(code)
        ran = self.throwaway.run([str(path)], self.cwd, **self.env)
        assert ran.returncode == 0, ran.stderr
        return ran.stdout


@pytest.fixture(scope="module")
def walked(tmp_path_factory, throwaway):
    """Run the whole walk-through; return the Walk with what each command printed."""
    checkout = tmp_path_factory.mktemp("checkout")
    shutil.copy(ROOT / "wsgi.py", checkout / "wsgi.py")
    walk = Walk(throwaway, checkout)
    scripts = []
    for language, options, text in blocks():
        if language == "console":
            walk.console(text)
        elif language == "python" and "file" in options:
            target = walk.cwd / options["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        elif language == "python" and "hook" in options:
            merge_hooks(walk.cwd / options["hook"], text)
        elif language == "python" and "run" in options:
            scripts.append(walk.script(text))
    walk.scripts = scripts
    return walk


def test_the_scaffold_alone_passes_describe_only(walked):
    first = walked.outputs[1]

    assert re.search(r"describe +5 passed", first)
    assert re.search(r"connect +FAILED", first)


def test_the_walk_through_passes_describe_connect_and_status(walked):
    last = walked.outputs[-1]

    for suite in ("describe", "connect", "status"):
        assert re.search(rf"{suite} +\d+ passed$", last, re.M), last
    for suite in ("provision", "receive", "records", "limits"):
        assert re.search(rf"{suite} +\d+ skipped \(", last), last
    assert "failed" not in last.splitlines()[-1]


def test_tracing_prints_each_hook_call_and_its_result(walked):
    [traced] = walked.scripts

    assert "map_status" in traced
    assert "finish map_status --> care started" in traced
