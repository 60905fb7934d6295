"""CRM search: filters, sorts, paging, and its limits."""

from __future__ import annotations

SEARCH = "/crm/v3/objects/contacts/search"


def _contacts(portal, *people):
    inputs = [{"properties": person} for person in people]
    response = portal.post(
        "/crm/v3/objects/contacts/batch/create", json={"inputs": inputs}
    )
    assert response.status_code == 201, response.text
    return sorted((r["id"] for r in response.json()["results"]), key=int)


def _ids(response):
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["results"]]


def test_filters_in_a_group_are_anded_and_groups_ored(portal, sandbox):
    ids = _contacts(
        portal,
        {"firstname": "Ann", "city": "Boston"},
        {"firstname": "Ann", "city": "Denver"},
        {"firstname": "Bob", "city": "Denver"},
    )

    both = portal.post(
        SEARCH,
        json={
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "firstname", "operator": "EQ", "value": "ann"},
                        {"propertyName": "city", "operator": "EQ", "value": "Denver"},
                    ]
                },
                {
                    "filters": [
                        {"propertyName": "city", "operator": "EQ", "value": "Boston"}
                    ]
                },
            ]
        },
    )

    assert sorted(_ids(both), key=int) == ids[:2]


def test_operators(portal, sandbox):
    ids = _contacts(
        portal,
        {"firstname": "Ann", "zip": "02134", "email": "ann@example.com"},
        {"firstname": "Bob"},
    )

    def search(*filters):
        sandbox.control.advance_clock(1)
        return _ids(
            portal.post(SEARCH, json={"filterGroups": [{"filters": list(filters)}]})
        )

    assert search({"propertyName": "zip", "operator": "HAS_PROPERTY"}) == ids[:1]
    assert search({"propertyName": "zip", "operator": "NOT_HAS_PROPERTY"}) == ids[1:]
    assert (
        search({"propertyName": "firstname", "operator": "IN", "values": ["Bob", "Cy"]})
        == ids[1:]
    )
    assert (
        search({"propertyName": "firstname", "operator": "NEQ", "value": "Ann"})
        == ids[1:]
    )
    assert (
        search(
            {
                "propertyName": "email",
                "operator": "CONTAINS_TOKEN",
                "value": "*example.com",
            }
        )
        == ids[:1]
    )
    assert (
        search({"propertyName": "hs_object_id", "operator": "GT", "value": ids[0]})
        == ids[1:]
    )
    between = {"propertyName": "hs_object_id", "operator": "BETWEEN"}
    assert search({**between, "value": ids[0], "highValue": ids[1]}) == ids


def test_sorts_and_properties(portal):
    _contacts(portal, {"firstname": "Cy"}, {"firstname": "Ann"}, {"firstname": "Bo"})

    response = portal.post(
        SEARCH,
        json={
            "sorts": [{"propertyName": "firstname", "direction": "DESCENDING"}],
            "properties": ["firstname"],
        },
    )

    names = [item["properties"]["firstname"] for item in response.json()["results"]]
    assert names == ["Cy", "Bo", "Ann"]
    assert set(response.json()["results"][0]["properties"]) == {
        "firstname", "createdate", "hs_object_id", "lastmodifieddate",
    }  # fmt: skip


def test_search_pages_with_after_and_reports_the_total(portal, sandbox):
    ids = _contacts(portal, *({"firstname": f"N{n}"} for n in range(5)))

    first = portal.post(SEARCH, json={"limit": 3})
    second = portal.post(
        SEARCH, json={"limit": 3, "after": first.json()["paging"]["next"]["after"]}
    )

    assert first.json()["total"] == 5
    assert _ids(first) + _ids(second) == ids
    assert "paging" not in second.json()


def test_dates_filter_by_epoch_milliseconds(portal, sandbox):
    old = _contacts(portal, {"firstname": "Old"})
    sandbox.control.advance_clock(3600)
    cutoff = sandbox.control.verb("clock", {"advance_seconds": 0})["now_ms"]
    new = _contacts(portal, {"firstname": "New"})

    found = portal.post(
        SEARCH,
        json={
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GTE",
                         "value": str(cutoff)}
                    ]
                }
            ]
        },
    )  # fmt: skip

    assert _ids(found) == new
    assert old != new


def test_limit_above_200_is_refused(portal):
    response = portal.post(SEARCH, json={"limit": 201})

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_paging_past_10000_results_is_refused(portal):
    response = portal.post(SEARCH, json={"limit": 100, "after": "9950"})

    assert response.status_code == 400
    assert "10000" in response.json()["message"]


def test_too_many_filter_groups_are_refused(portal):
    group = {"filters": [{"propertyName": "firstname", "operator": "HAS_PROPERTY"}]}

    response = portal.post(SEARCH, json={"filterGroups": [group] * 7})

    assert response.status_code == 400


def test_a_bad_operator_is_refused(portal):
    response = portal.post(
        SEARCH,
        json={
            "filterGroups": [{"filters": [{"propertyName": "x", "operator": "LIKE"}]}]
        },
    )

    assert response.status_code == 400


def test_new_records_reach_search_after_the_index_lag(portal, sandbox):
    sandbox.control.verb("search_lag", {"seconds": 5})
    ids = _contacts(portal, {"firstname": "Late"})

    before = portal.post(SEARCH, json={})
    sandbox.control.advance_clock(6)
    after = portal.post(SEARCH, json={})

    assert before.json()["total"] == 0
    assert _ids(after) == ids
