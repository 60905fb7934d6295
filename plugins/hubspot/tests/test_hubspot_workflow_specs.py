"""Comparing a workflow HubSpot answers with the one the hub wants."""

from __future__ import annotations

import copy

import pytest

from carehub_hubspot.workflow_specs import deal_flow
from carehub_hubspot.workflows import differs
from hub.canonical import ProspectStatus

STAGE_IDS = {status.name: str(100 + status.position) for status in ProspectStatus}


@pytest.fixture
def wanted():
    """Return the deal workflow the hub wants."""
    return deal_flow("https://hub.example.org/hooks/hubspot/t", "4242", STAGE_IDS)


def answered(wanted):
    """Return the workflow as HubSpot might answer it: with ids and dates added."""
    flow = copy.deepcopy(wanted)
    flow.update(id="9", revisionId="3", createdAt="2026-12-03T10:00:00Z")
    flow["actions"][0]["connection"] = {"edgeType": "STANDARD"}
    return flow


def test_what_hubspot_adds_is_no_drift(wanted):
    assert not differs(answered(wanted), wanted)


def test_reordered_stage_values_and_dropped_cosmetic_keys_are_no_drift(wanted):
    flow = answered(wanted)
    branch = flow["enrollmentCriteria"]["listFilterBranch"]
    del branch["filterBranchOperator"]
    operation = branch["filterBranches"][0]["filters"][0]["operation"]
    operation["values"].reverse()
    del operation["includeObjectsWithNoValueSet"]

    assert not differs(flow, wanted)


@pytest.mark.parametrize(
    "change",
    ("turned_off", "other_url", "stage_missing", "no_reenrollment", "unsigned"),
)
def test_a_change_that_matters_is_drift(wanted, change):
    flow = answered(wanted)
    criteria = flow["enrollmentCriteria"]
    if change == "turned_off":
        flow["isEnabled"] = False
    elif change == "other_url":
        flow["actions"][0]["webhookUrl"] = "https://elsewhere.example.org/"
    elif change == "stage_missing":
        operation = criteria["listFilterBranch"]["filterBranches"][0]["filters"][0]
        operation["operation"]["values"].pop()
    elif change == "no_reenrollment":
        criteria["shouldReEnroll"] = False
    elif change == "unsigned":
        del flow["actions"][0]["authSettings"]

    assert differs(flow, wanted)


def test_the_deal_workflow_leaves_out_new_lead(wanted):
    branch = wanted["enrollmentCriteria"]["listFilterBranch"]
    values = branch["filterBranches"][0]["filters"][0]["operation"]["values"]

    assert STAGE_IDS["NEW_LEAD"] not in values
    assert len(values) == 11
