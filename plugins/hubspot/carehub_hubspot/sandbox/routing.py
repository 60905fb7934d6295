"""HubSpot's two path families: the v3/v4 paths and the date-based ``2026-09`` ones."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, request

FAMILIES = {
    "objects": ("/crm/v3/objects", "/crm/objects/2026-09"),
    "properties": ("/crm/v3/properties", "/crm/properties/2026-09"),
    "pipelines": ("/crm/v3/pipelines", "/crm/pipelines/2026-09"),
    "associations": ("/crm/v4/associations", "/crm/associations/2026-09"),
    "flows": ("/automation/v4/flows", "/automation/2026-09-beta/flows"),
}


def add(
    bp: Blueprint, family: str, rule: str, view: Callable, methods: list[str]
) -> None:
    """Serve a view at a rule under both path families of an API."""
    for index, prefix in enumerate(FAMILIES[family]):
        bp.add_url_rule(
            prefix + rule,
            endpoint=f"{family}_{view.__name__}_{methods[0].lower()}_{index}",
            view_func=view,
            methods=methods,
        )


def date_based() -> bool:
    """Return whether the request used a date-based (``2026-09``) path."""
    return "/2026-09" in request.path
