"""Account info: the cheap call that checks a token and names its portal."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify

from carehub_hubspot.sandbox import state


def register(bp: Blueprint) -> None:
    """Add ``GET /account-info/v3/details``."""
    bp.add_url_rule("/account-info/v3/details", view_func=account_details)


def account_details():
    """Answer ``GET /account-info/v3/details`` for the token's portal."""
    portal = state.portal()

    return jsonify(
        {
            "portalId": portal["id"],
            "accountType": "STANDARD",
            "timeZone": portal["time_zone"],
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": _utc_offset(portal["time_zone"]),
            "utcOffsetMilliseconds": _utc_offset_ms(portal["time_zone"]),
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
    )


def _utc_offset_ms(time_zone: str) -> int:
    offset = datetime.now(ZoneInfo(time_zone)).utcoffset()

    return int(offset.total_seconds() * 1000) if offset else 0


def _utc_offset(time_zone: str) -> str:
    total = _utc_offset_ms(time_zone) // 60000
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)

    return f"{sign}{hours:02d}:{minutes:02d}"
