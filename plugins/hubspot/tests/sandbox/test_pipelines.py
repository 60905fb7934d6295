"""The pipelines API: deal pipelines and stages, and the checks HubSpot makes."""

from __future__ import annotations

import pytest

PIPELINES = ("/crm/v3/pipelines/deals", "/crm/pipelines/2026-09/deals")


def _stage(label, probability="0.5", order=0):
    return {
        "label": label,
        "displayOrder": order,
        "metadata": {"probability": probability},
    }


def _pipeline(label="ClearCare_Sales_Pipeline", stages=None):
    return {
        "label": label,
        "displayOrder": 1,
        "stages": stages
        or [
            _stage("New Lead", "0.1"),
            _stage("Won", "1.0", 1),
            _stage("Lost", "0.0", 2),
        ],
    }


def test_a_new_portal_has_the_default_sales_pipeline(portal):
    pipelines = portal.get(PIPELINES[0]).json()["results"]

    assert [p["id"] for p in pipelines] == ["default"]
    assert pipelines[0]["label"] == "Sales Pipeline"
    assert [s["id"] for s in pipelines[0]["stages"]] == [
        "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
        "decisionmakerboughtin", "contractsent", "closedwon", "closedlost",
    ]  # fmt: skip
    won = pipelines[0]["stages"][5]
    assert won["metadata"] == {"isClosed": "true", "probability": "1.0"}


@pytest.mark.parametrize("prefix", PIPELINES, ids=("v3", "2026-09"))
def test_create_generates_ids_and_marks_closed_stages(portal, prefix):
    created = portal.post(prefix, json=_pipeline())

    body = created.json()
    assert created.status_code == 201
    assert body["id"].isdigit()
    assert all(stage["id"].isdigit() for stage in body["stages"])
    assert len({stage["id"] for stage in body["stages"]}) == 3
    assert [s["metadata"]["isClosed"] for s in body["stages"]] == [
        "false",
        "true",
        "true",
    ]
    assert portal.get(f"{prefix}/{body['id']}").json()["label"] == body["label"]


@pytest.mark.parametrize(
    ("stages", "words"),
    (
        ([{"label": "A", "displayOrder": 0}], "probability"),
        ([_stage("A", "1.5")], "probability"),
        ([_stage("A", "high")], "probability"),
        ([_stage("A"), _stage("a", order=1)], "unique"),
        ([], "stage"),
    ),
    ids=("no probability", "above 1", "not a number", "duplicate label", "no stages"),
)
def test_invalid_pipelines_are_refused(portal, stages, words):
    body = _pipeline()
    body["stages"] = stages

    response = portal.post(PIPELINES[0], json=body)

    assert response.status_code == 400
    assert words in response.json()["message"]


def test_a_free_portal_has_one_deal_pipeline_only(sandbox):
    free = sandbox.portal("free")
    starter = sandbox.portal("starter")

    refused = free.post(PIPELINES[0], json=_pipeline())

    assert refused.status_code == 403
    assert "free" in refused.json()["message"]
    assert starter.post(PIPELINES[0], json=_pipeline()).status_code == 201
    assert starter.post(PIPELINES[0], json=_pipeline("Third")).status_code == 403


def test_a_second_pipeline_with_the_same_label_answers_409(portal):
    portal.post(PIPELINES[0], json=_pipeline())

    assert portal.post(PIPELINES[0], json=_pipeline()).status_code == 409


def test_stages_are_added_updated_and_deleted(portal):
    pipeline = portal.post(PIPELINES[0], json=_pipeline()).json()
    stages = f"{PIPELINES[0]}/{pipeline['id']}/stages"

    added = portal.post(stages, json=_stage("Assessment", "0.3", 3))
    duplicate = portal.post(stages, json=_stage("assessment", "0.3", 4))
    updated = portal.patch(
        f"{stages}/{added.json()['id']}", json={"metadata": {"probability": "0.4"}}
    )
    bad = portal.patch(
        f"{stages}/{added.json()['id']}", json={"metadata": {"probability": "2"}}
    )

    assert added.status_code == 201
    assert added.json()["id"].isdigit()
    assert duplicate.status_code == 400
    assert updated.json()["metadata"]["probability"] == "0.4"
    assert bad.status_code == 400
    assert portal.delete(f"{stages}/{added.json()['id']}").status_code == 204
    assert len(portal.get(stages).json()["results"]) == 3


def test_a_stage_in_use_cannot_be_deleted(portal):
    pipeline = portal.post(PIPELINES[0], json=_pipeline()).json()
    stage = pipeline["stages"][0]["id"]
    deal = portal.post(
        "/crm/v3/objects/deals",
        json={
            "properties": {
                "dealname": "D",
                "pipeline": pipeline["id"],
                "dealstage": stage,
            }
        },
    )

    refused = portal.delete(f"{PIPELINES[0]}/{pipeline['id']}/stages/{stage}")
    whole = portal.delete(f"{PIPELINES[0]}/{pipeline['id']}")

    assert deal.status_code == 201
    assert refused.status_code == 400
    assert whole.status_code == 400
    portal.delete(f"/crm/v3/objects/deals/{deal.json()['id']}")
    assert (
        portal.delete(f"{PIPELINES[0]}/{pipeline['id']}/stages/{stage}").status_code
        == 204
    )


def test_a_deal_must_use_a_stage_of_its_own_pipeline(portal):
    pipeline = portal.post(PIPELINES[0], json=_pipeline()).json()

    wrong = portal.post(
        "/crm/v3/objects/deals",
        json={"properties": {"dealname": "D", "pipeline": pipeline["id"],
                             "dealstage": "closedwon"}},
    )  # fmt: skip

    assert wrong.status_code == 400


def test_a_pipeline_is_replaced_and_relabelled(portal):
    pipeline = portal.post(PIPELINES[0], json=_pipeline()).json()
    kept = pipeline["stages"][0]

    replaced = portal.put(
        f"{PIPELINES[0]}/{pipeline['id']}",
        json={"label": "Renamed", "displayOrder": 2,
              "stages": [kept, _stage("Fresh", "0.2", 1)]},
    )  # fmt: skip
    patched = portal.patch(f"{PIPELINES[0]}/{pipeline['id']}", json={"label": "Again"})

    assert replaced.status_code == 200
    assert replaced.json()["stages"][0]["id"] == kept["id"]
    assert len(replaced.json()["stages"]) == 2
    assert patched.json()["label"] == "Again"


def test_an_unknown_pipeline_answers_404(portal):
    assert portal.get(f"{PIPELINES[0]}/424242").status_code == 404
