"""The three workflows the hub provisions: their bodies, and the steps by hand."""

from __future__ import annotations

from carehub_hubspot import paths
from carehub_hubspot.records import CONTACT_PROPERTIES, PROPERTY_LABELS, PROSPECT_ID
from hub.canonical import ProspectStatus

CONTACT_WORKFLOW = "ClearCare Contact Workflow"
FIELD_SYNC_WORKFLOW = "ClearCare Contact Field Sync Workflow"
DEAL_WORKFLOW = "ClearCare Deal Stage Workflow"


def _branch(filters: list[dict]) -> dict:
    """Return an OR branch holding one AND branch of the filters."""
    return {
        "filterBranchType": "OR",
        "filterBranchOperator": "OR",
        "filters": [],
        "filterBranches": [
            {
                "filterBranchType": "AND",
                "filterBranchOperator": "AND",
                "filters": filters,
                "filterBranches": [],
            }
        ],
    }


def _and_branch(filters: list[dict]) -> dict:
    return {
        "filterBranchType": "AND",
        "filterBranchOperator": "AND",
        "filters": filters,
        "filterBranches": [],
    }


def _known(property_name: str) -> dict:
    return {
        "filterType": "PROPERTY",
        "property": property_name,
        "operation": {
            "operationType": "ALL_PROPERTY",
            "operator": "IS_KNOWN",
            "includeObjectsWithNoValueSet": False,
        },
    }


def _stage_in(stage_ids: list[str]) -> dict:
    return {
        "filterType": "PROPERTY",
        "property": "dealstage",
        "operation": {
            "operationType": "ENUMERATION",
            "operator": "IS_ANY_OF",
            "values": stage_ids,
            "includeObjectsWithNoValueSet": False,
        },
    }


def webhook_action(url: str, app_id: str | None) -> dict:
    """Return the "Send a webhook" action posting the record to ``url``."""
    action = {
        "type": "WEBHOOK",
        "actionId": "1",
        "method": "POST",
        "webhookUrl": url,
        "queryParams": [
            {
                "name": "objectId",
                "value": {"type": "OBJECT_PROPERTY", "propertyName": "hs_object_id"},
            }
        ],
    }
    if app_id:
        action["authSettings"] = {"type": "SIGNATURE", "appId": int(app_id)}
    return action


def _flow(name: str, flow_type: str, object_type_id: str, url, app_id, criteria):
    body = {
        "name": name,
        "type": flow_type,
        "flowType": "WORKFLOW",
        "objectTypeId": object_type_id,
        "isEnabled": True,
        "startActionId": "1",
        "actions": [webhook_action(url, app_id)],
        "enrollmentCriteria": criteria,
        "blockedDates": [],
        "timeWindows": [],
        "customProperties": {},
        "dataSources": [],
    }
    if flow_type == "CONTACT_FLOW":
        body["suppressionListIds"] = []
        body["canEnrollFromSalesforce"] = False
    return body


def synced_properties(agency) -> list[str]:
    """Return the contact properties whose change re-enrolls a contact."""
    names = list(CONTACT_PROPERTIES.values())
    if not agency.locations:
        names.remove(CONTACT_PROPERTIES["location"])
    for field in agency.required_fields:
        name = CONTACT_PROPERTIES.get(field)
        if name and name not in names and field != "location":
            names.append(name)
    return names


def contact_flow(url: str, app_id: str | None) -> dict:
    """Return the workflow every new contact enrolls in once."""
    criteria = {
        "type": "LIST_BASED",
        "shouldReEnroll": False,
        "unEnrollObjectsNotMeetingCriteria": False,
        "listFilterBranch": _branch([_known("hs_object_id")]),
        "reEnrollmentTriggersFilterBranches": [],
    }
    return _flow(
        CONTACT_WORKFLOW, "CONTACT_FLOW", paths.CONTACT_TYPE_ID, url, app_id, criteria
    )


def field_sync_flow(url: str, app_id: str | None, agency) -> dict:
    """Return the workflow a contact re-enrolls in when a synced field changes.

    Only contacts linked to a ClearCare prospect enroll, so a new contact is
    announced once, by the contact workflow.
    """
    criteria = {
        "type": "LIST_BASED",
        "shouldReEnroll": True,
        "unEnrollObjectsNotMeetingCriteria": False,
        "listFilterBranch": _branch([_known(PROSPECT_ID)]),
        "reEnrollmentTriggersFilterBranches": [
            _and_branch([_known(name)]) for name in synced_properties(agency)
        ],
    }
    return _flow(
        FIELD_SYNC_WORKFLOW,
        "CONTACT_FLOW",
        paths.CONTACT_TYPE_ID,
        url,
        app_id,
        criteria,
    )


def deal_flow(url: str, app_id: str | None, stage_ids: dict[str, str]) -> dict:
    """Return the workflow a deal enrolls in at each stage past New Lead."""
    wanted = [
        stage_ids[status.name]
        for status in ProspectStatus
        if status != ProspectStatus.NEW_LEAD
    ]
    criteria = {
        "type": "LIST_BASED",
        "shouldReEnroll": True,
        "unEnrollObjectsNotMeetingCriteria": False,
        "listFilterBranch": _branch([_stage_in(wanted)]),
        "reEnrollmentTriggersFilterBranches": [_and_branch([_stage_in(wanted)])],
    }
    return _flow(
        DEAL_WORKFLOW, "PLATFORM_FLOW", paths.DEAL_TYPE_ID, url, app_id, criteria
    )


def workflows_page(portal_id) -> str:
    """Return the address of the portal's workflows in HubSpot."""
    return f"https://app.hubspot.com/workflows/{portal_id}"


def _signature_step(app_id: str | None) -> str:
    if not app_id:
        return ""
    return f' Tick "Use request signature" and choose the app {app_id}.'


def manual_contact_steps(portal_id, url: str, app_id: str | None) -> str:
    """Return the steps to make the contact workflow by hand."""
    return (
        f'"{CONTACT_WORKFLOW}": in HubSpot open Automation › Workflows '
        f"({workflows_page(portal_id)}), click Create workflow › From scratch › "
        "Contact-based, and name it. Enrollment trigger: Record ID is known; leave "
        "re-enrollment off. Add the action Send a webhook: method POST, webhook URL "
        f"{url}.{_signature_step(app_id)} Review, and turn it on."
    )


def manual_field_sync_steps(portal_id, url: str, app_id: str | None, agency) -> str:
    """Return the steps to make the field sync workflow by hand."""
    labels = ", ".join(PROPERTY_LABELS.get(n, n) for n in synced_properties(agency))
    return (
        f'"{FIELD_SYNC_WORKFLOW}": in HubSpot open Automation › Workflows '
        f"({workflows_page(portal_id)}), click Create workflow › From scratch › "
        "Contact-based, and name it. Enrollment trigger: ClearCare Prospect Id is "
        "known. Turn "
        f"re-enrollment on, triggered when any of these properties changes: {labels}. "
        f"Add the action Send a webhook: method POST, webhook URL {url}."
        f"{_signature_step(app_id)} Review, and turn it on."
    )


def manual_deal_steps(portal_id, url: str, app_id: str | None) -> str:
    """Return the steps to make the deal workflow by hand, as the guide gives them."""
    return (
        f'"{DEAL_WORKFLOW}": in HubSpot open Automation › Workflows '
        f"({workflows_page(portal_id)}), click Create workflow › From scratch › "
        "Deal-based, and name it. Enrollment trigger: Deal stage is any of every "
        "ClearCare_Sales_Pipeline stage except New Lead. Turn re-enrollment on for "
        "Deal stage is any of the same stages. Add the action Send a webhook: method "
        f"POST, webhook URL {url}.{_signature_step(app_id)} Click Review, choose "
        '"Yes, enroll existing deals which meet the trigger criteria as of now", '
        "and turn it on."
    )
