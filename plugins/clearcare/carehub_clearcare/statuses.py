"""ClearCare's prospect status ids, and the agency's own overrides of them.

The ids come from the vendor's documentation, except the one of Collect Payment
Information, which no public source gives: it is a setting, and an agency has to
confirm it (or override it) before the hub writes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hub import ProspectStatus
from hub.errors import NeedsAttention

log = logging.getLogger(__name__)

S = ProspectStatus

#: The documented status ids.
STATUS_IDS: Mapping[ProspectStatus, str] = {
    S.NEW_LEAD: "1",
    S.INITIAL_PHONE_CALL: "10",
    S.ASSESSMENT_SCHEDULED: "20",
    S.ASSESSMENT_PERFORMED: "30",
    S.WANTS_TO_MEET_CANDIDATES: "40",
    S.NEEDS_CONTRACT: "50",
    S.EXPECTING_CLIENT_SIGNATURE: "60",
    S.COLLECT_PAYMENT_INFORMATION: "65",
    S.READY_TO_SCHEDULE_CARE: "70",
    S.CARE_STARTED: "80",
    S.CLOSED_LOST: "90",
    S.CLOSED_WON: "100",
}

#: The status whose id is a guess until an agency confirms it.
UNCONFIRMED = S.COLLECT_PAYMENT_INFORMATION
ID_SETTING = "collect_payment_status_id"
CONFIRMED_SETTING = "collect_payment_status_confirmed"


def status_named(key: str) -> ProspectStatus:
    """Return the status a label or an enum name names, either closed spelling.

    :raises ValueError: when it names no status.
    """
    try:
        return ProspectStatus.from_label(key)
    except ValueError:
        return ProspectStatus[key.strip().upper()]


class StatusTable:
    """The status ids one agency's ClearCare uses.

    :param overrides: status labels (or names) to ids the agency set by hand; an
        override counts as confirmed.
    """

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        collect_payment_id: str | None = None,
        collect_payment_confirmed: bool = False,
    ) -> None:
        self.ids = dict(STATUS_IDS)
        if collect_payment_id:
            self.ids[UNCONFIRMED] = str(collect_payment_id).strip()
        self.confirmed = bool(collect_payment_confirmed)
        for key, value in (overrides or {}).items():
            try:
                status = status_named(str(key))
            except (KeyError, ValueError):
                log.warning("Ignoring a ClearCare status override for %r.", key)
                continue
            self.ids[status] = str(value).strip()
            if status is UNCONFIRMED:
                self.confirmed = True

    @classmethod
    def for_connection(cls, connection) -> StatusTable:
        """Return the table of a connection, with its agency's overrides."""
        agency = connection.agency
        overrides = agency.status_overrides.get("clearcare", {}) if agency else {}
        confirmed = connection.setting(CONFIRMED_SETTING, False)
        if isinstance(confirmed, str):
            confirmed = confirmed.strip().lower() in ("1", "true", "yes", "on")

        return cls(overrides, connection.setting(ID_SETTING), bool(confirmed))

    def to_native(self, status: ProspectStatus) -> str:
        """Return the status id to write.

        :raises hub.errors.NeedsAttention: for Collect Payment Information while
            its id is not confirmed.
        """
        if status is UNCONFIRMED and not self.confirmed:
            raise NeedsAttention(
                "The ClearCare id of the status 'Collect Payment Information' is not "
                f"confirmed (the hub assumes {self.ids[status]}). Look it up in "
                "ClearCare, then confirm or correct it in the ClearCare settings."
            )
        return self.ids[status]

    def from_native(self, value: Any) -> ProspectStatus | None:
        """Return the status of an id (or a label, either closed spelling), or None."""
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip()
        for status, native in self.ids.items():
            if native == text:
                if status is UNCONFIRMED and not self.confirmed:
                    log.warning(
                        "ClearCare status id %s may be Collect Payment Information, "
                        "but the agency has not confirmed it; ignoring it.",
                        text,
                    )
                    return None
                return status
        try:
            return ProspectStatus.from_label(text)
        except ValueError:
            log.warning("ClearCare status %r is not one the hub knows.", text)
            return None
