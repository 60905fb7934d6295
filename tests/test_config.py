"""Configuration: development keys, production refusals, cookie security."""

from __future__ import annotations

import multiprocessing

import pytest

from hub import create_app
from hub.errors import ConfigurationError
from hub.testing.server import test_config

FERNET_KEY = "q2Jc1T7Yc7mKk9rQ8sYh0nqkqS4O8M1w3VvQq0m2p0A="


def production(tmp_path, **overrides):
    config = test_config(
        tmp_path,
        HUB_ENV="production",
        HUB_SECRET_KEY="s" * 40,
        HUB_ENCRYPTION_KEYS=FERNET_KEY,
        HUB_PUBLIC_URL="https://hub.example.org",
    )
    config.update(overrides)
    return config


def test_development_keys_are_created_once_and_kept(tmp_path):
    first = create_app(test_config(tmp_path))
    second = create_app(test_config(tmp_path))

    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["HUB_ENCRYPTION_KEYS"] == second.config["HUB_ENCRYPTION_KEYS"]
    key_file = tmp_path / "instance" / "encryption_keys"
    assert key_file.stat().st_mode & 0o077 == 0


def _read_keys(instance: str, queue) -> None:
    app = create_app({"HUB_INSTANCE_PATH": instance, "HUB_LOAD_ENTRY_POINTS": False})
    queue.put(app.config["HUB_ENCRYPTION_KEYS"])


def test_processes_starting_together_agree_on_one_key(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_read_keys, args=(str(tmp_path / "i"), queue))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    keys = {queue.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(timeout=60)

    assert len(keys) == 1


def test_production_starts_with_safe_settings(tmp_path):
    app = create_app(production(tmp_path))

    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "instance" / "secret_key").exists()


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"HUB_SECRET_KEY": None}, "set HUB_SECRET_KEY"),
        ({"HUB_ENCRYPTION_KEYS": None}, "set HUB_ENCRYPTION_KEYS"),
        ({"HUB_SANDBOX": True}, "unset HUB_SANDBOX"),
        ({"HUB_PUBLIC_URL": "http://hub.example.org"}, "https://"),
    ],
    ids=("no secret key", "no encryption keys", "sandboxes on", "http public URL"),
)
def test_production_refuses_unsafe_settings(tmp_path, overrides, says):
    with pytest.raises(ConfigurationError) as refused:
        create_app(production(tmp_path, **overrides))

    assert "HUB_ENV=production refuses to start" in str(refused.value)
    assert says in str(refused.value)


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://hub.example.org")
    monkeypatch.setenv("HUB_MAX_WEBHOOK_BYTES", "2048")
    monkeypatch.setenv("HUB_LOAD_PLUGINS", "hubspot, clearcare")

    app = create_app(test_config(tmp_path))

    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["HUB_MAX_WEBHOOK_BYTES"] == 2048
    assert app.config["HUB_LOAD_PLUGINS"] == ["hubspot", "clearcare"]


def test_cookies_are_not_secure_on_an_http_public_url(tmp_path):
    app = create_app(test_config(tmp_path))

    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_a_bad_encryption_key_is_refused_with_a_fix(tmp_path):
    with pytest.raises(ConfigurationError, match="must be Fernet keys"):
        create_app(test_config(tmp_path, HUB_ENCRYPTION_KEYS="not-a-key"))


def test_an_unknown_queue_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="set it to one of: embedded"):
        create_app(test_config(tmp_path, HUB_QUEUE="carrier-pigeon"))
