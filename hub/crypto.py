"""Encryption of secrets at rest, and keyed hashes to look tokens up by."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from hub.errors import ConfigurationError

#: How many decrypted values a vault keeps, so a secret read on every webhook is
#: decrypted once per process.
DECRYPTED_KEPT = 1024


class Vault:
    """Encrypts with the first of ``HUB_ENCRYPTION_KEYS`` and decrypts with any."""

    def __init__(self, keys: str | list[str]) -> None:
        if isinstance(keys, str):
            keys = [k.strip() for k in keys.split(",") if k.strip()]
        if not keys:
            raise ConfigurationError("HUB_ENCRYPTION_KEYS holds no key.")
        try:
            self._fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError):
            raise ConfigurationError(
                "HUB_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded "
                "bytes each), separated by commas."
            ) from None
        self._multi = MultiFernet(self._fernets)
        # Keyed once: a copy of a keyed HMAC costs less than keying a new one.
        self._hashers = [
            hmac.new(
                hashlib.sha256(
                    b"carehub token hash\0" + base64.urlsafe_b64decode(k)
                ).digest(),
                digestmod=hashlib.sha256,
            )
            for k in keys
        ]
        # A ciphertext always opens to the same plaintext under one set of keys, so
        # remembering it needs no invalidation: a changed secret is a new ciphertext.
        self._opened = functools.lru_cache(maxsize=DECRYPTED_KEPT)(self._open)

    def encrypt(self, plaintext: str) -> str:
        """Return ``plaintext`` encrypted under the first key."""
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Return the plaintext of a value encrypted under any of the keys.

        :raises ConfigurationError: when no key opens it.
        """
        return self._opened(token)

    def _open(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                "A stored secret cannot be decrypted with HUB_ENCRYPTION_KEYS. Add "
                "back the key it was encrypted with, then run 'flask hub rotate-keys'."
            ) from None

    def rotate(self, token: str) -> str:
        """Return the value re-encrypted under the first key."""
        return self._multi.rotate(token.encode()).decode()

    def encrypt_json(self, value: Any) -> str:
        """Return a JSON-ready value encrypted."""
        return self.encrypt(json.dumps(value, sort_keys=True))

    def decrypt_json(self, token: str | None) -> Any:
        """Return the value :meth:`encrypt_json` encrypted; ``{}`` for ``None``."""
        if not token:
            return {}
        return json.loads(self.decrypt(token))

    def token_hash(self, token: str) -> str:
        """Return the keyed hash a token is stored and looked up by."""
        return self.token_hashes(token)[0]

    def token_hashes(self, token: str) -> list[str]:
        """Return the token's hash under every key, the current one first.

        A lookup tries them all, so URLs keep working while keys rotate.
        """
        message = token.encode()
        hashes = []
        for hasher in self._hashers:
            keyed = hasher.copy()
            keyed.update(message)
            hashes.append(keyed.hexdigest())

        return hashes


def new_token() -> str:
    """Return an unguessable token for a webhook URL."""
    return secrets.token_urlsafe(32)


def vault() -> Vault:
    """Return the current app's vault."""
    return current_app.extensions["hub.vault"]


def init_app(app) -> Vault:
    """Create the app's vault from ``HUB_ENCRYPTION_KEYS``."""
    app.extensions["hub.vault"] = Vault(app.config["HUB_ENCRYPTION_KEYS"])
    return app.extensions["hub.vault"]
