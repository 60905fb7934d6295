"""Every hook is documented in docs/hooks.md and has a test named after it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hub import hookspecs

ROOT = Path(__file__).parent.parent
HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if inspect.isfunction(value) and hasattr(value, "carehub_spec")
)


def test_the_hookspecs_are_found():
    assert {"register_connectors", "provision", "receive_event", "map_status"} <= set(
        HOOKS
    )


@pytest.mark.parametrize("name", HOOKS)
def test_each_hook_is_documented_with_its_exact_signature(name):
    spec = getattr(hookspecs, name)
    signature = f"{name}({', '.join(inspect.signature(spec).parameters)})"
    text = (ROOT / "docs" / "hooks.md").read_text()

    assert f"## `{signature}`" in text, f"docs/hooks.md has no section for {signature}"


@pytest.mark.parametrize("name", HOOKS)
def test_each_hook_has_a_test(name):
    sources = [
        path.read_text()
        for folder in (ROOT / "tests", ROOT / "plugins")
        for path in folder.rglob("test_*.py")
    ]
    pattern = re.compile(rf"def test_hook_{name}\b")

    assert any(pattern.search(source) for source in sources), (
        f"no test is named test_hook_{name}"
    )
