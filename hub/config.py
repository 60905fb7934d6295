"""Configuration from ``HUB_*`` environment variables, and what production needs."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from hub.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Each setting, its default, and how to read it from the environment.
DEFAULTS: dict[str, Any] = {
    "HUB_ENV": "development",
    "HUB_DATABASE_URL": None,
    "HUB_PUBLIC_URL": "http://127.0.0.1:5000",
    "HUB_SECRET_KEY": None,
    "HUB_ENCRYPTION_KEYS": None,
    "HUB_QUEUE": "embedded",
    "HUB_WORKER": True,
    "HUB_SANDBOX": False,
    "HUB_SANDBOX_DATABASE_URL": None,
    "HUB_LOAD_PLUGINS": None,
    "HUB_MAX_WEBHOOK_BYTES": 1024 * 1024,
    #: How long a webhook endpoint serves from this process's cache before it is
    #: checked against the database again; 0 checks it for every webhook.
    "HUB_ENDPOINT_CACHE_SECONDS": 1,
    #: The longest the ingress waits before a commit for the webhooks already under
    #: way to join it, in milliseconds; 0 commits what is queued at once.
    "HUB_GROUP_COMMIT_MS": 2,
    "HUB_SESSION_MINUTES": 8 * 60,
    "HUB_BROKER_URL": "redis://127.0.0.1:6379/0",
    "HUB_METRICS_TOKEN": None,
}

#: The ways events can reach workers.
QUEUES = ("embedded", "celery")

BOOLEANS = {"HUB_WORKER", "HUB_SANDBOX"}
INTEGERS = {
    "HUB_MAX_WEBHOOK_BYTES",
    "HUB_SESSION_MINUTES",
    "HUB_ENDPOINT_CACHE_SECONDS",
    "HUB_GROUP_COMMIT_MS",
}
LISTS = {"HUB_LOAD_PLUGINS"}


def from_environ(environ: os._Environ | dict[str, str]) -> dict[str, Any]:
    """Return the ``HUB_*`` settings found in an environment, parsed."""
    config: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("HUB_"):
            continue
        if name in BOOLEANS:
            config[name] = raw.strip().lower() not in ("", "0", "false", "no", "off")
        elif name in INTEGERS:
            try:
                config[name] = int(raw)
            except ValueError:
                raise ConfigurationError(
                    f"{name} must be a whole number, not {raw!r}."
                ) from None
        elif name in LISTS:
            config[name] = [item.strip() for item in raw.split(",") if item.strip()]
        else:
            config[name] = raw

    return config


def load(app, overrides: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from defaults, the environment and ``overrides``.

    Keys are created in the instance folder in development and demanded in
    production; see :func:`check_production`.
    """
    app.config.update(DEFAULTS)
    app.config["HUB_LOAD_ENTRY_POINTS"] = True
    app.config["HUB_PLUGINS"] = []
    app.config.update(from_environ(os.environ))
    app.config.update(overrides or {})

    if app.config["HUB_QUEUE"] not in QUEUES:
        raise ConfigurationError(
            f"HUB_QUEUE={app.config['HUB_QUEUE']!r} is not a queue this hub has; "
            f"set it to one of: {', '.join(QUEUES)}."
        )

    instance = Path(app.instance_path)
    production = app.config["HUB_ENV"] == "production"
    if production:
        check_production(app.config)
    else:
        instance.mkdir(parents=True, exist_ok=True)
        if not app.config["HUB_SECRET_KEY"]:
            app.config["HUB_SECRET_KEY"] = _key_file(
                instance / "secret_key", lambda: secrets.token_urlsafe(48)
            )
        if not app.config["HUB_ENCRYPTION_KEYS"]:
            app.config["HUB_ENCRYPTION_KEYS"] = _key_file(
                instance / "encryption_keys", lambda: Fernet.generate_key().decode()
            )

    if not app.config["HUB_DATABASE_URL"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["HUB_DATABASE_URL"] = f"sqlite:///{instance / 'carehub.sqlite'}"
    if not app.config["HUB_SANDBOX_DATABASE_URL"]:
        instance.mkdir(parents=True, exist_ok=True)
        app.config["HUB_SANDBOX_DATABASE_URL"] = (
            f"sqlite:///{instance / 'sandbox.sqlite'}"
        )

    https = urlsplit(app.config["HUB_PUBLIC_URL"]).scheme == "https"
    app.config.update(
        SECRET_KEY=app.config["HUB_SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=app.config["HUB_DATABASE_URL"],
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PREFERRED_URL_SCHEME="https" if https else "http",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=app.config["HUB_SESSION_MINUTES"]),
        MAX_CONTENT_LENGTH=None,
    )


def check_production(config: dict[str, Any]) -> None:
    """Refuse the settings that are unsafe in production, saying what to set.

    :raises ConfigurationError: listing every problem found.
    """
    problems = []
    if not config.get("HUB_SECRET_KEY"):
        problems.append("set HUB_SECRET_KEY to a long random value")
    if not config.get("HUB_ENCRYPTION_KEYS"):
        problems.append(
            "set HUB_ENCRYPTION_KEYS to one or more Fernet keys, comma-separated "
            '(python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())")'
        )
    if config.get("HUB_SANDBOX"):
        problems.append("unset HUB_SANDBOX: the sandboxes are for development only")
    if urlsplit(config.get("HUB_PUBLIC_URL") or "").scheme != "https":
        problems.append(
            "set HUB_PUBLIC_URL to the https:// address vendors reach the hub at"
        )
    if problems:
        raise ConfigurationError(
            "HUB_ENV=production refuses to start: " + "; ".join(problems) + "."
        )


def _key_file(path: Path, make) -> str:
    """Return the key stored at ``path``, creating it once if it is missing.

    Several processes may start at once, so the file is written under a temporary
    name and linked into place: only one of them wins and all read the same key.
    """
    if path.exists():
        return path.read_text().strip()

    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    temporary.write_text(make() + "\n")
    temporary.chmod(0o600)
    try:
        os.link(temporary, path)
        log.warning(
            "Created a development key at %s. It sits beside the database: set "
            "HUB_SECRET_KEY and HUB_ENCRYPTION_KEYS for anything but development.",
            path,
        )
    except FileExistsError:
        pass
    finally:
        temporary.unlink()

    return path.read_text().strip()
