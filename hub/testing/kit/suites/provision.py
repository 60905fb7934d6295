"""provision: every step reported, a second run writes nothing, damage is repaired."""

from __future__ import annotations

from hub.canonical import StepStatus
from hub.testing.kit.declaration import check
from hub.testing.kit.expect import succeeds

#: Where a step may end: done, or left to a person or to the remote's limits.
FINISHED = {StepStatus.DONE, StepStatus.MANUAL, StepStatus.UNAVAILABLE, "skipped"}


def assert_finished(reports, steps: tuple[str, ...]) -> None:
    """Fail unless every declared step was reported and ended well."""
    final = reports.final()
    values = {s.value for s in StepStatus}
    odd = sorted({status for _, status, _ in reports.calls} - values)
    assert not odd, f"report() got statuses that are no StepStatus: {odd}."
    unknown = sorted(set(final) - set(steps))
    assert not unknown, (
        f"provision reported steps {unknown} that ConnectorInfo.provision_steps "
        "does not list."
    )
    missing = [step for step in steps if step not in final]
    assert not missing, f"provision never reported the steps {missing}."
    unfinished = {s: v for s, v in final.items() if v not in FINISHED}
    assert not unfinished, f"Steps did not finish: {unfinished}."


class ProvisionSuite:
    """``provision`` run once, twice, and after an admin removed something."""

    def _provisioned(self, kit):
        steps = kit.info.provision_steps
        assert steps, (
            "ConnectorInfo.provision_steps is empty; list the steps provision "
            "reports, or skip the provision suite with a reason."
        )
        handle = kit.new_connection()
        kit.connect(handle)
        reports = succeeds(lambda: kit.provision(handle), "provision")
        return handle, reports, steps

    @check("provision", "first_run")
    def test_provision_first_run(self, kit):
        handle, reports, steps = self._provisioned(kit)

        assert_finished(reports, steps)

    @check("provision", "second_run_writes_nothing")
    def test_provision_second_run_writes_nothing(self, kit):
        handle, _, steps = self._provisioned(kit)
        writes = kit.writes(handle)

        again = kit.provision(handle)

        assert_finished(again, steps)
        assert kit.writes(handle) == writes, (
            f"A second provision made {kit.writes(handle) - writes} writes; it must "
            "find everything in place and write nothing."
        )

    @check("provision", "repairs")
    def test_provision_repairs(self, kit):
        handle, _, steps = self._provisioned(kit)
        self.break_provisioning(kit, handle)
        writes = kit.writes(handle)

        repaired = kit.provision(handle)
        repair_writes = kit.writes(handle) - writes
        kit.provision(handle)

        assert_finished(repaired, steps)
        assert repair_writes > 0, "provision did not put back what was removed."
        assert kit.writes(handle) == writes + repair_writes, (
            "After the repair, another provision still writes."
        )
