"""The pytest plugin carehub ships, turned on by its ``pytest11`` entry point.

It adds nothing to a test run until a test asks for one of its fixtures.
"""

from __future__ import annotations

import pytest

from hub.testing.control import SandboxControl


@pytest.fixture
def sandbox_control():
    """Return a factory ``(base_url) -> SandboxControl`` for a sandbox's control API."""
    made: list[SandboxControl] = []

    def make(base_url: str) -> SandboxControl:
        control = SandboxControl(base_url)
        made.append(control)
        return control

    yield make
    for control in made:
        control.session.close()
