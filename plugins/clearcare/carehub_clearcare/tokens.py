"""The access tokens ClearCare issues, cached until shortly before they expire."""

from __future__ import annotations

import threading
from dataclasses import dataclass

#: Seconds before a token's stated expiry at which a new one is fetched.
TOKEN_MARGIN = 60


@dataclass(frozen=True)
class Token:
    """One access token and the time (on the cache's clock) it stops being used."""

    value: str
    expires_at: float


class TokenCache:
    """Tokens by token URL and client id, shared by every client in a process."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], Token] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], now: float) -> Token | None:
        """Return the cached token for a key while it is still good."""
        with self._lock:
            token = self._tokens.get(key)
        return token if token is not None and token.expires_at > now else None

    def put(self, key: tuple[str, str], token: Token) -> None:
        """Keep a token for a key."""
        with self._lock:
            self._tokens[key] = token

    def drop(self, key: tuple[str, str]) -> None:
        """Forget a key's token, so the next call fetches a new one."""
        with self._lock:
            self._tokens.pop(key, None)


shared_tokens = TokenCache()
