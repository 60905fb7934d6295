"""The pytest plugin carehub ships, turned on by its ``pytest11`` entry point.

It adds nothing to a test run until a test asks for one of its fixtures or a test
class subclasses the conformance kit (``hub.testing.kit.ConnectorKit``); then the
run ends with each connector's suites, and the reason of each suite it skipped.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from hub.testing.control import SandboxControl

MARKER = "carehub_suite"
SUITES = ("describe", "connect", "provision", "receive", "status", "records", "limits")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{MARKER}(suite, check): a check of the carehub connector conformance kit.",
    )
    config.pluginmanager.register(ConformanceReport(), "carehub-conformance-report")


class ConformanceReport:
    """Collects the outcome of every kit check and prints them by suite."""

    def __init__(self) -> None:
        #: Each kit check's node id, and its connector, suite and check name.
        self.checks: dict[str, tuple[str, str, str]] = {}
        #: Per connector, each (suite, check)'s outcome and skip reason.
        self.outcomes: dict[str, dict] = defaultdict(dict)

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker(MARKER)
            connector = getattr(getattr(item, "cls", None), "connector", None)
            if marker is not None and connector:
                self.checks[item.nodeid] = (connector, *marker.args)

    def pytest_runtest_logreport(self, report):
        found = self.checks.get(report.nodeid)
        if found is None:
            return
        connector, suite, check = found
        key = (suite, check)
        outcomes = self.outcomes[connector]
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            # A suite's own name leads its reason; a check's name stays in front.
            reason = reason.removeprefix("Skipped: ").removeprefix(f"{suite}: ")
            outcomes[key] = ("skipped", reason.removeprefix(f"{suite}."))
        elif report.failed:
            outcomes[key] = ("failed", "")
        elif report.when == "call" and key not in outcomes:
            outcomes[key] = ("passed", "")

    def pytest_terminal_summary(self, terminalreporter):
        if not self.outcomes:
            return
        terminalreporter.section("carehub conformance")
        for connector, results in sorted(self.outcomes.items()):
            terminalreporter.write_line(f"{connector}:")
            for suite in SUITES:
                mine = {c: r for (s, c), r in results.items() if s == suite}
                if mine:
                    terminalreporter.write_line(f"  {suite:<10} {verdict(mine)}")


def verdict(results: dict[str, tuple[str, str]]) -> str:
    """Return one suite's line: its failed checks, passes, and skips with reasons."""
    failed = sorted(c for c, (outcome, _) in results.items() if outcome == "failed")
    skipped = {c: why for c, (outcome, why) in results.items() if outcome == "skipped"}
    passed = sum(1 for outcome, _ in results.values() if outcome == "passed")
    parts = []
    if failed:
        parts.append(f"FAILED {', '.join(failed)}")
    if passed:
        parts.append(f"{passed} passed")
    if skipped:
        reasons = "; ".join(sorted(set(skipped.values())))
        parts.append(f"{len(skipped)} skipped ({reasons})")

    return ", ".join(parts)


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
