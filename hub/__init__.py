"""carehub: keeps HubSpot and ClearCare in sync for home-care agencies.

Connectors import only the names below.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from hub.canonical import (
    AgencyFacts,
    Applied,
    Change,
    ChangeBatch,
    ChangeKind,
    Connected,
    ConnectorInfo,
    Direction,
    Inbound,
    LocationInfo,
    Prospect,
    ProspectStatus,
    RecordPage,
    RecordRef,
    Role,
    StepStatus,
)
from hub.hookspecs import hookimpl

__all__ = [
    "AgencyFacts",
    "Applied",
    "Change",
    "ChangeBatch",
    "ChangeKind",
    "Connected",
    "ConnectorInfo",
    "Direction",
    "Inbound",
    "LocationInfo",
    "Prospect",
    "ProspectStatus",
    "RecordPage",
    "RecordRef",
    "Role",
    "StepStatus",
    "create_app",
    "hookimpl",
]

csrf = CSRFProtect()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the hub's Flask app.

    :param config: settings that win over the ``HUB_*`` environment variables.
        ``HUB_PLUGINS`` may list plugin objects to register besides the entry points.
    """
    from hub import cli, crypto, plugins, sandbox, sync
    from hub import config as hub_config
    from hub.extensions import db, migrate
    from hub.web import admin, auth, errors, health, ingress, metrics, sessions

    app = Flask(__name__, instance_path=_instance_path(config))
    hub_config.load(app, config)
    _quiet_secrets_in_access_log()

    crypto.init_app(app)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(__file__).parent.parent / "migrations")
    )
    csrf.init_app(app)
    plugins.init_app(app, app.config["HUB_PLUGINS"])

    errors.init_app(app)
    sessions.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(ingress.bp)
    csrf.exempt(ingress.bp)
    sandbox.init_app(app)
    sync.init_app(app)
    app.register_blueprint(metrics.bp)
    cli.init_app(app)

    return app


def _instance_path(config: dict[str, Any] | None) -> str | None:
    import os

    path = (config or {}).get("HUB_INSTANCE_PATH") or os.environ.get(
        "HUB_INSTANCE_PATH"
    )
    return str(Path(path).resolve()) if path else None


class _HideWebhookTokens(logging.Filter):
    """Masks the token in ``/hooks/<connector>/<token>`` paths of access log lines."""

    pattern = re.compile(r"(/hooks/[^/\s]+/)[^\s?\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        # gunicorn passes its access-log atoms as one mapping, werkzeug as a tuple.
        if isinstance(record.args, Mapping):
            record.args = {key: self._mask(v) for key, v in record.args.items()}
        elif record.args:
            record.args = tuple(self._mask(arg) for arg in record.args)
        record.msg = self._mask(record.msg)
        return True

    def _mask(self, value):
        return self.pattern.sub(r"\1…", value) if isinstance(value, str) else value


def _quiet_secrets_in_access_log() -> None:
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideWebhookTokens) for f in logger.filters):
            logger.addFilter(_HideWebhookTokens())
