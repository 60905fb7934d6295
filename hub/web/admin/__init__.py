"""The admin web: the setup wizard, the dashboard, events, credentials and the audit
log, for agency admins and operators."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from hub.web.admin import (  # noqa: E402, F401
    agency_settings,
    credentials,
    dashboard,
    events,
    operators,
    wizard,
)
