"""ClearCare's resources as calls: organizations, locations, patients and
subscriptions, and the client a connection's settings make."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import current_app

from carehub_clearcare.client import ClearCareClient, entries
from carehub_clearcare.tokens import shared_tokens
from hub.errors import NeedsAttention, NotFound, PermissionDenied
from hub.ratelimit import STORAGE_SETTING, shared_limiter
from hub.sandbox import base_url

NAME = "clearcare"
REAL_ROOT = "https://connect.clearcareonline.com"
BASE_SETTING = "HUB_CLEARCARE_BASE_URL"
TOKEN_SETTING = "HUB_CLEARCARE_TOKEN_URL"
TIMEOUT_SETTING = "HUB_CLEARCARE_TIMEOUT"
#: Requests a second the hub allows itself per agency; ClearCare asks for 100 at most
#: and enforces nothing, so the hub stays well below it.
RATE_SETTING = "HUB_CLEARCARE_RATE"
DEFAULT_RATE = 10


def segment(value: str) -> str:
    """Return an id made safe to put in a path."""
    return quote(str(value), safe="")


class ConnectAPI(ClearCareClient):
    """The Connect API calls the connector makes, one method per call."""

    def organizations(self) -> list[dict[str, Any]]:
        """Return the organizations the credentials see (the agency, unpaged)."""
        bundle = self.request(
            "GET", "/v1/organizations/", operation="reading the organization"
        )
        return entries(bundle)

    def locations(self) -> list[dict[str, Any]]:
        """Return the agency's locations, searching where a GET is refused."""
        try:
            bundle = self.request(
                "GET", "/v1/locations/", operation="listing the locations"
            )
        except (PermissionDenied, NotFound):
            bundle = self.request(
                "POST",
                "/v1/locations/_search",
                operation="searching the locations",
                json={},
            )
        return entries(bundle)

    def patient(self, patient_id: str) -> dict[str, Any]:
        """Return one patient.

        :raises hub.errors.NotFound: when the agency has no such patient.
        """
        return self.request(
            "GET",
            f"/v1/patients/{segment(patient_id)}/",
            operation=f"reading patient {patient_id}",
        )

    def create_patient(self, resource: dict[str, Any]) -> str:
        """Create a patient and return its id (ClearCare answers nothing else)."""
        answer = self.request(
            "POST", "/v1/patients/", operation="creating a patient", json=resource
        )
        return str((answer or {})["id"])

    def update_patient(self, patient_id: str, fields: dict[str, Any]) -> None:
        """Change only the fields given of one patient."""
        self.request(
            "PUT",
            f"/v1/patients/{segment(patient_id)}/",
            operation=f"updating patient {patient_id}",
            json=fields,
        )

    def search_patients(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield the patients matching ClearCare's search filters, page by page."""
        return self.pages(
            "POST",
            "/v1/patients/_search/",
            operation="searching patients",
            filters=filters,
        )

    def subscriptions(self) -> list[dict[str, Any]]:
        """Return the agency's webhook subscriptions."""
        bundle = self.request(
            "GET", "/v1/subscriptions/", operation="listing the subscriptions"
        )
        return entries(bundle)

    def create_subscription(self, resource: dict[str, Any]) -> str:
        """Create a subscription and return its id."""
        answer = self.request(
            "POST",
            "/v1/subscriptions/",
            operation=f"subscribing to {resource.get('criteria')}",
            json=resource,
        )
        return str((answer or {})["id"])

    def delete_subscription(self, subscription_id: str) -> None:
        """Delete one subscription; one already gone is fine."""
        with contextlib.suppress(NotFound):
            self.request(
                "DELETE",
                f"/v1/subscriptions/{segment(subscription_id)}/",
                operation=f"deleting subscription {subscription_id}",
            )


def endpoints() -> tuple[str, str]:
    """Return the API root and the token URL the app is configured with.

    ``HUB_CLEARCARE_BASE_URL`` may be given with or without its ``/v1``; the token
    URL defaults to ``/oauth/accesstoken`` at the same root, as ClearCare has it.
    """
    root = base_url(NAME, BASE_SETTING, REAL_ROOT).rstrip("/").removesuffix("/v1")
    token_url = current_app.config.get(TOKEN_SETTING) or f"{root}/oauth/accesstoken"

    return root, token_url


def client_for(connection, **options: Any) -> ConnectAPI:
    """Return a client for a connection, sharing the process's tokens and limiter.

    :raises hub.errors.NeedsAttention: when a credential is missing.
    """
    settings = connection.all_settings()
    missing = [
        label
        for name, label in (
            ("client_id", "client id"),
            ("client_secret", "client secret"),
            ("agency_id", "agency id"),
        )
        if not str(settings.get(name) or "").strip()
    ]
    if missing:
        raise NeedsAttention(
            f"The ClearCare connection lacks its {', '.join(missing)}. Enter the "
            "credentials WellSky support issued in the ClearCare settings."
        )

    root, token_url = endpoints()
    options.setdefault("tokens", shared_tokens)
    options.setdefault(
        "limiter",
        shared_limiter(
            NAME,
            limit=int(current_app.config.get(RATE_SETTING, DEFAULT_RATE)),
            storage_uri=current_app.config.get(STORAGE_SETTING),
        ),
    )
    options.setdefault("timeout", float(current_app.config.get(TIMEOUT_SETTING, 30)))

    return ConnectAPI(
        root,
        token_url,
        str(settings["client_id"]).strip(),
        str(settings["client_secret"]).strip(),
        str(settings["agency_id"]).strip(),
        **options,
    )
