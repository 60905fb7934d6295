"""The HubSpot API client: bearer token, rate limits, retries, pages and batches.

Every HTTP error is turned into a hub exception here (see :mod:`.errors`). Calls that
HubSpot did not carry out (429, 423) are retried after the wait HubSpot asks for;
server errors and timeouts are retried only for calls that are safe to repeat. A
create whose answer was lost is never sent again blindly: :meth:`HubSpotClient.create`
first looks for what the lost call may have made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import requests

from carehub_hubspot import paths
from carehub_hubspot.errors import from_batch_error, translate
from carehub_hubspot.runtime import Runtime
from hub.errors import RemoteError, RemoteUnavailable
from hub.ratelimit import RateLimiter

log = logging.getLogger(__name__)

#: HubSpot's most inputs per batch call.
BATCH_SIZE = 100
#: The most results one search page returns.
SEARCH_PAGE = 200
#: The category of a batch error naming ids HubSpot does not hold.
NOT_FOUND = "OBJECT_NOT_FOUND"
#: Waits between tries of a server error grow from this many seconds.
BACKOFF_BASE = 1.0


class AnswerLost(RemoteUnavailable):
    """A call that is unsafe to repeat was sent, but its answer never came back."""

    code = "answer_lost"


class HubSpotClient:
    """Talks to one HubSpot portal with one token.

    :param limiter_key: the key of the portal's rate budget, such as its portal id.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        limiter_key: str,
        rt: Runtime,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter_key = limiter_key
        self.rt = rt
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
        }

    # -- one call ------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        safe: bool | None = None,
    ) -> Any:
        """Call HubSpot; return the answer's JSON, or None when it has no body.

        :param what: the call in plain words, for error messages and logs.
        :param safe: whether sending the call twice does no harm; by default every
            method but POST is, and so are searches.
        :raises hub.errors.RemoteError: a translated HubSpot error.
        :raises AnswerLost: an unsafe call was sent and its answer lost.
        """
        if safe is None:
            safe = method != "POST" or paths.is_search(path)
        search = paths.is_search(path)
        limiter = self.rt.search_limiter if search else self.rt.limiter

        # A 429 means HubSpot did nothing, so waiting it out costs no try; a storm
        # of them is only given up on after ``max_rate_limit_waits``.
        attempt = rate_waits = 0
        while True:
            self._wait_for_budget(limiter)
            try:
                response = self.rt.session.request(
                    method,
                    self.base_url + path,
                    json=json,
                    params=params,
                    headers=self._headers,
                    timeout=self.rt.timeout,
                )
            except requests.RequestException as exc:
                error = self._transport_error(exc, what, safe)
                if isinstance(error, AnswerLost):
                    raise error from None
                attempt += 1
                wait = self._backoff(attempt)
            else:
                self._observe_limits(response)
                if response.status_code < 400:
                    return self._json(response, what)
                error = translate(response, what)
                if response.status_code == 429:
                    rate_waits += 1
                else:
                    attempt += 1
                wait = self._wait_after(error, attempt, safe, limiter)

            if (
                wait is None
                or attempt >= self.rt.max_attempts
                or rate_waits > self.rt.max_rate_limit_waits
            ):
                raise error
            log.info(
                "HubSpot call failed while %s (portal %s): %s; waiting %.1fs.",
                what,
                self.limiter_key,
                error.code,
                wait,
            )
            self.rt.sleep(wait)

    def _json(self, response: requests.Response, what: str) -> Any:
        """Return an answer's JSON, or None when it has no body."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RemoteError(
                f"HubSpot answered {response.status_code} while {what}, but not with "
                "JSON. Check that HUB_HUBSPOT_BASE_URL points at HubSpot's API."
            ) from None

    def _wait_for_budget(self, limiter: RateLimiter) -> None:
        while (wait := limiter.acquire(self.limiter_key)) > 0:
            self.rt.sleep(wait)

    def _transport_error(
        self, exc: requests.RequestException, what: str, safe: bool
    ) -> RemoteError:
        unsent = isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError)
            and "Connection refused" in str(exc)
        )
        kind = type(exc).__name__
        if not safe and not unsent:
            return AnswerLost(
                f"HubSpot's answer was lost while {what} ({kind}); the hub looks for "
                "what the call may have made before trying again.",
                retryable=True,
            )
        return RemoteUnavailable(
            f"The hub could not reach HubSpot while {what} ({kind}). Check the "
            "network and HUB_HUBSPOT_BASE_URL; the hub tries again.",
            retryable=True,
        )

    def _wait_after(
        self, error: RemoteError, attempt: int, safe: bool, limiter: RateLimiter
    ) -> float | None:
        """Return how long to wait before trying again, or None to give up."""
        status = error.remote_status
        if status == 429:
            wait = error.retry_after or 0.0
            if wait >= 3600:
                return None
            limiter.pause(self.limiter_key, wait)
            return wait + self.rt.jitter() * 0.5
        if status == 423:
            return (error.retry_after or 2.0) + self.rt.jitter() * 0.5
        if status in (502, 503, 504):
            if not safe:
                raise AnswerLost(
                    f"{error.message} HubSpot may have done it anyway; the hub looks "
                    "for the result before trying again.",
                    remote_status=status,
                    retryable=True,
                ) from error
            return self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.rt.max_backoff, BACKOFF_BASE * 2 ** max(attempt - 1, 0))
        return ceiling * (0.5 + self.rt.jitter() / 2)

    def _observe_limits(self, response: requests.Response) -> None:
        limit = response.headers.get("X-HubSpot-RateLimit-Max")
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if not limit:
            return
        try:
            seconds = float(interval) / 1000 if interval else 10.0
            self.rt.limiter.observe(self.limiter_key, int(limit), seconds)
        except ValueError:
            log.warning("HubSpot sent an unreadable rate limit header: %r", limit)

    # -- shapes built on calls -------------------------------------------------------

    def get(self, path: str, *, what: str, **params: Any) -> Any:
        """GET a path; return its JSON."""
        return self.request("GET", path, what=what, params=params or None)

    def create(
        self,
        path: str,
        body: Any,
        *,
        what: str,
        find: Callable[[], Any],
    ) -> Any:
        """POST a create; when its answer is lost, return what ``find`` finds first.

        :param find: looks the object up by what makes it unique; returns it or None.
        """
        last: AnswerLost | None = None
        for _ in range(self.rt.max_attempts):
            try:
                return self.request("POST", path, what=what, json=body, safe=False)
            except AnswerLost as exc:
                last = exc
                found = find()
                if found is not None:
                    log.info("Found what a lost create made while %s.", what)
                    return found
                self.rt.sleep(self._backoff(1))

        raise last

    def pages(self, path: str, *, what: str, **params: Any) -> Iterator[dict]:
        """Yield every result of a paged list, passing ``params`` on every page."""
        after = None
        while True:
            page_params = {**params, "after": after} if after else dict(params)
            answer = self.get(path, what=what, **page_params) or {}
            yield from answer.get("results", [])
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def batch(
        self, object_type: str, action: str, inputs: list[dict], *, what: str, **extra
    ) -> list[dict]:
        """Send inputs to a batch endpoint 100 at a time; return every result.

        Upserts and reads are safe to repeat; creates are not. A read leaves out the
        ids HubSpot did not find (its 207 answer names them as ``OBJECT_NOT_FOUND``).

        :raises hub.errors.RemoteError: for the first input HubSpot refused.
        """
        results: list[dict] = []
        path = paths.path("objects_batch", object_type=object_type, action=action)
        safe = action in ("read", "upsert", "update", "archive")
        for start in range(0, len(inputs), BATCH_SIZE):
            chunk = inputs[start : start + BATCH_SIZE]
            answer = (
                self.request(
                    "POST", path, what=what, json={"inputs": chunk, **extra}, safe=safe
                )
                or {}
            )
            failed = answer.get("errors") or []
            if action == "read":
                failed = [e for e in failed if e.get("category") != NOT_FOUND]
            if failed:
                raise from_batch_error(failed[0], what)
            results.extend(answer.get("results", []))

        return results

    def search(self, object_type: str, body: dict, *, what: str) -> dict:
        """Run one search request; return its answer."""
        path = paths.path("objects_search", object_type=object_type)
        return self.request("POST", path, what=what, json=body, safe=True) or {}

    def search_all(
        self,
        object_type: str,
        filters: list[dict],
        properties: list[str],
        *,
        what: str,
    ) -> Iterator[dict]:
        """Yield every match of AND-ed filters, walking ``hs_object_id`` upwards.

        Each request asks for ids above the last one seen, so the walk is never cut
        off by the 10,000 results a single search can page through.
        """
        last_id = None
        while True:
            page_filters = list(filters)
            if last_id is not None:
                page_filters.append(
                    {"propertyName": "hs_object_id", "operator": "GT", "value": last_id}
                )
            body = {
                "filterGroups": [{"filters": page_filters}] if page_filters else [],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": properties,
                "limit": SEARCH_PAGE,
            }
            results = self.search(object_type, body, what=what).get("results", [])
            yield from results
            if len(results) < SEARCH_PAGE:
                return
            last_id = results[-1]["id"]
