"""Where an agency's setup stands: wizard steps, provisioning and the checklist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.canonical import ConnectorInfo, Role, StepStatus
from hub.models import Agency, Connection, utcnow
from hub.web.admin import texts
from hub.web.admin.connections import setup_connectors

#: Provisioning statuses that let the wizard go on.
SETTLED = {
    StepStatus.DONE.value,
    StepStatus.MANUAL.value,
    StepStatus.UNAVAILABLE.value,
    StepStatus.SKIPPED.value,
}


@dataclass(frozen=True)
class WizardStep:
    """One page of the setup wizard."""

    key: str
    title: str
    endpoint: str
    args: dict[str, str]


@dataclass(frozen=True)
class ChecklistItem:
    """One thing to finish in the sales CRM after setup."""

    key: str
    text: str
    done: bool
    seen_by_hub: bool
    steps: list[str]


def setup_state(agency: Agency) -> dict[str, Any]:
    """Return what the wizard has recorded for an agency."""
    return dict((agency.settings or {}).get("setup", {}))


def update_setup(agency: Agency, **values: Any) -> None:
    """Merge values into the agency's setup record, so the change is saved."""
    agency.settings = {
        **(agency.settings or {}),
        "setup": {**setup_state(agency), **values},
    }


def now_text() -> str:
    """Return the current time as the setup record keeps it."""
    return utcnow().isoformat(timespec="seconds")


def wizard_steps() -> list[WizardStep]:
    """Return the wizard's pages in order; one connect page per connector set up."""
    steps = [
        WizardStep("overview", "Overview", "admin.overview", {}),
        WizardStep("agreement", "Agreement", "admin.agreement", {}),
    ]
    for info in setup_connectors():
        title = f"{info.label} connection"
        if info.role == Role.SALES:
            title = f"{info.label} access & configuration"
        steps.append(
            WizardStep(
                f"connect:{info.name}", title, "admin.connect", {"connector": info.name}
            )
        )
    steps.append(WizardStep("webhooks", "Webhook configuration", "admin.webhooks", {}))
    steps.append(WizardStep("complete", "Setup complete", "admin.complete", {}))

    return steps


def provisioning_settled(agency: Agency) -> bool:
    """Return whether provisioning ran and every step ended well enough to go on."""
    if not setup_state(agency).get("configured_at"):
        return False
    rows = [row for c in agency.connections for row in c.steps]

    return all(row.status in SETTLED for row in rows)


def step_done(agency: Agency, step: WizardStep) -> bool:
    """Return whether a wizard page has been completed."""
    state = setup_state(agency)
    if step.key == "overview":
        return True
    if step.key == "agreement":
        return bool(state.get("agreed_at"))
    if step.key.startswith("connect:"):
        connection = agency.connection(step.args["connector"])
        if connection is None or connection.connected_at is None:
            return False
        info = next(i for i in setup_connectors() if i.name == connection.connector)
        return info.role != Role.SALES or provisioning_settled(agency)
    if step.key == "webhooks":
        return bool(state.get("finished_at"))

    return bool(state.get("finished_at"))


def first_open_step(agency: Agency) -> WizardStep:
    """Return the first wizard page not completed yet, or the last page.

    An agency that has not agreed yet starts at the overview.
    """
    steps = wizard_steps()
    if not setup_state(agency).get("agreed_at"):
        return steps[0]
    for step in steps:
        if not step_done(agency, step):
            return step

    return steps[-1]


def sales_connection(agency: Agency) -> tuple[ConnectorInfo, Connection] | None:
    """Return the sales connector and the agency's connection to it, if any."""
    for info in setup_connectors():
        if info.role == Role.SALES:
            connection = agency.connection(info.name)
            return (info, connection) if connection else None

    return None


def checklist(agency: Agency) -> list[ChecklistItem]:
    """Return the things left to do by hand in the sales CRM, and which are done."""
    acknowledged = set(setup_state(agency).get("acknowledged", []))
    items = []
    found = sales_connection(agency)
    if found is not None:
        info, connection = found
        for row in connection.steps:
            if row.status not in (StepStatus.MANUAL.value, StepStatus.DONE.value):
                continue
            if row.status == StepStatus.DONE.value and f"manual:{row.step}" not in (
                setup_state(agency).get("manual_steps", [])
            ):
                continue
            key = f"manual:{row.step}"
            items.append(
                ChecklistItem(
                    key=key,
                    text=f"Finish by hand: {texts.STEP_TITLES.get(row.step, row.step)}",
                    done=row.status == StepStatus.DONE.value or key in acknowledged,
                    seen_by_hub=row.status == StepStatus.DONE.value,
                    steps=texts.MANUAL_STEPS.get(row.step, []),
                )
            )
    fields = ", ".join(texts.FIELD_LABELS.get(f, f) for f in agency.required_fields)
    for key, text in texts.CHECKLIST.items():
        items.append(
            ChecklistItem(
                key=key,
                text=text.format(fields=fields),
                done=key in acknowledged,
                seen_by_hub=False,
                steps=[],
            )
        )

    return items
