"""A client for ClearCare's Connect API over ``requests``, with its quirks handled.

It fetches a client-credentials token and caches it until shortly before it
expires (and once more on a 401), sends ``Authorization: Bearer`` whatever the
token answer calls its type, ends every path with a slash but the one documented
exception, reads Bundle lists in both of their shapes, retries reads and updates on
server errors and timeouts, and turns every failure into one of the hub's errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from carehub_clearcare.answers import refusal, vendor_message
from carehub_clearcare.tokens import TOKEN_MARGIN, Token, TokenCache
from hub.errors import AuthenticationFailed, RemoteError, RemoteUnavailable
from hub.ratelimit import RateLimiter, Unlimited

log = logging.getLogger(__name__)

PAGE_SIZE = 100
#: A guard against a server that never stops paging.
MAX_PAGES = 500


def entries(bundle: Any) -> list[dict[str, Any]]:
    """Return the resources of a Bundle whose entries are wrapped or bare."""
    if not isinstance(bundle, dict):
        return []
    found = []
    for entry in bundle.get("entry") or []:
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            found.append(entry["resource"])
        elif isinstance(entry, dict):
            found.append(entry)
    return found


class ClearCareClient:
    """Calls one agency's ClearCare API.

    :param base_url: the API's root, such as ``https://connect.clearcareonline.com``;
        paths under ``/v1/`` are added to it.
    :param token_url: where the client-credentials token is fetched.
    :param clock: returns the time in seconds; the token cache's clock.
    :param sleep: waits between retries.
    """

    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        agency_id: str,
        *,
        session: requests.Session | None = None,
        tokens: TokenCache | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.agency_id = str(agency_id)
        self.session = session or requests.Session()
        self.tokens = tokens or TokenCache()
        self.limiter = limiter or Unlimited()
        self.clock = clock
        self.sleep = sleep
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff

    def __enter__(self) -> ClearCareClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.session.close()

    # -- the token ------------------------------------------------------------------

    @property
    def limit_key(self) -> str:
        """Return the key the rate limit counts under: one per agency and API."""
        return f"{self.base_url}|{self.agency_id}"

    @property
    def _token_key(self) -> tuple[str, str]:
        return (self.token_url, self.client_id)

    def access_token(self) -> str:
        """Return a token, from the cache while it is good, else a new one."""
        token = self.tokens.get(self._token_key, self.clock())
        if token is None:
            token = self._fetch_token()
            self.tokens.put(self._token_key, token)
        return token.value

    def _fetch_token(self) -> Token:
        operation = "fetching an access token"
        self._wait_for_turn()
        try:
            response = self.session.post(
                self.token_url,
                json={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise self._unreachable(operation, exc) from None

        if response.status_code in (400, 401):
            raise AuthenticationFailed(
                f"ClearCare refused the client id and secret of agency "
                f"{self.agency_id} ({response.status_code}: "
                f"{vendor_message(response)}). Check them in the ClearCare settings, "
                "or ask WellSky support for new ones.",
                remote_status=response.status_code,
            )
        if response.status_code >= 300:
            raise refusal(response, operation, self.agency_id)
        data = self._json(response, operation)
        try:
            value = str(data["access_token"])
            lifetime = float(data.get("expires_in") or 3600)
        except (KeyError, TypeError, ValueError):
            raise RemoteError(
                f"ClearCare answered {operation} for agency {self.agency_id} without "
                "a usable token; try again, or ask WellSky support.",
                remote_status=response.status_code,
            ) from None
        log.info("Fetched a ClearCare access token for agency %s.", self.agency_id)

        return Token(value, self.clock() + max(0.0, lifetime - TOKEN_MARGIN))

    # -- requests -------------------------------------------------------------------

    def _wait_for_turn(self) -> None:
        while (wait := self.limiter.acquire(self.limit_key)) > 0:
            self.sleep(wait)

    def url(self, path: str) -> str:
        """Return the full URL of an API path such as ``/v1/patients/``."""
        return f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry: bool | None = None,
    ) -> Any:
        """Call the API and return the parsed answer (None when it is empty).

        Reads, searches, updates and deletes are retried with backoff on server
        errors and timeouts; creates are not, since ClearCare would make two.

        :raises hub.errors.RemoteError: or one of its kinds, as the answer says.
        """
        if retry is None:
            retry = method != "POST" or path.rstrip("/").endswith("_search")
        for attempt in range(self.attempts):
            try:
                return self._send(method, path, operation, params, json)
            except RemoteError as exc:
                if exc.retry_after:
                    self.limiter.pause(self.limit_key, exc.retry_after)
                if not (retry and exc.retryable and attempt + 1 < self.attempts):
                    raise
                delay = exc.retry_after or self.backoff * 2**attempt
                log.info(
                    "Retrying %s for ClearCare agency %s in %.1fs: %s",
                    operation,
                    self.agency_id,
                    delay,
                    exc.__class__.__name__,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _send(self, method, path, operation, params, json) -> Any:
        for fresh_token in (False, True):
            if fresh_token:
                self.tokens.drop(self._token_key)
            headers = {
                "Authorization": f"Bearer {self.access_token()}",
                "Accept": "application/json",
            }
            self._wait_for_turn()
            try:
                response = self.session.request(
                    method,
                    self.url(path),
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise self._unreachable(operation, exc) from None
            log.debug("ClearCare %s %s answered %s", method, path, response.status_code)
            if response.status_code != 401:
                break

        if response.status_code < 300:
            return self._json(response, operation) if response.content else None
        raise refusal(response, operation, self.agency_id)

    def _json(self, response: requests.Response, operation: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RemoteUnavailable(
                f"ClearCare answered {operation} for agency {self.agency_id} with "
                "something that is not JSON; the hub will try again later.",
                remote_status=response.status_code,
                retryable=True,
            ) from None

    def _unreachable(self, operation: str, exc: Exception) -> RemoteUnavailable:
        timed_out = isinstance(exc, requests.Timeout)
        kind = "did not answer in time" if timed_out else "could not be reached"
        return RemoteUnavailable(
            f"ClearCare {kind} while {operation} for agency {self.agency_id} "
            f"({exc.__class__.__name__}); the hub will try again later.",
            retryable=True,
        )

    # -- lists ----------------------------------------------------------------------

    def pages(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        filters: dict[str, Any] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Yield every resource of a paged list, asking ``_page`` by ``_page``."""
        for page in range(MAX_PAGES):
            paging = {"_count": page_size, "_page": page}
            if method == "GET":
                bundle = self.request(
                    "GET",
                    path,
                    operation=operation,
                    params={**(filters or {}), **paging},
                )
            else:
                bundle = self.request(
                    method,
                    path,
                    operation=operation,
                    json={**(filters or {}), **paging},
                )
            found = entries(bundle)
            yield from found
            total = _number((bundle or {}).get("totalRecords"))
            seen = page * page_size + len(found)
            if len(found) < page_size or (total is not None and seen >= total):
                return


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
