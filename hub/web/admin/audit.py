"""Writing the audit log: who did what to an agency's setup and credentials."""

from __future__ import annotations

import logging

from hub.extensions import db
from hub.models import Agency, AuditEntry, mask
from hub.web.auth import current_user

log = logging.getLogger(__name__)


def record(
    agency: Agency, action: str, secret: str | None = None, detail: str | None = None
) -> AuditEntry:
    """Add an audit entry for the signed-in user; the secret is stored masked."""
    user = current_user()
    entry = AuditEntry(
        agency_id=agency.id,
        user_id=user.id if user else None,
        action=action,
        credential=mask(secret) if secret else None,
        detail=detail,
    )
    db.session.add(entry)
    log.info(
        "Agency %s: %s by user %s (%s).",
        agency.slug,
        action,
        entry.user_id,
        detail or "",
    )

    return entry
