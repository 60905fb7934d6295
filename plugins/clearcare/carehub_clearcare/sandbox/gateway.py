"""The sandbox's front door, as ClearCare's API gateway behaves.

A path without its trailing slash, in the wrong case or plural, or an
``Authorization`` header in another scheme than ``Bearer`` gets the gateway's 403
about a key=value pair, never a 404 or a redirect. Faults set by the control API
are applied here, and every request is counted.
"""

from __future__ import annotations

import base64
import hashlib
import time

import sqlalchemy as sa
from flask import Blueprint, Response, g, jsonify, request

from carehub_clearcare.sandbox import state, store

TOKEN_PATH = "/oauth/accesstoken"
CONTROL_PREFIX = "/_control/"
#: The one documented path without a trailing slash.
SLASHLESS = ("/v1/locations/_search", TOKEN_PATH)

#: The endpoints that answer any path no route knows.
UNKNOWN_PATH_ENDPOINTS = ("gateway", "gateway_any")

SERVER_ERROR_PAGE = (
    "<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1></body></html>"
)


def gateway_refusal() -> Response:
    """Return the gateway's 403, which names a hash of the Authorization header."""
    header = request.headers.get("Authorization", "")
    digest = base64.b64encode(hashlib.sha256(header.encode()).digest()).decode()
    response = jsonify(
        message=(
            "Invalid key=value pair (missing equal-sign) in Authorization header "
            f"(hashed with SHA-256 and encoded with Base64): '{digest}'."
        )
    )
    response.status_code = 403
    return response


def server_error() -> Response:
    """Return ClearCare's 500: an HTML page, not JSON."""
    return Response(SERVER_ERROR_PAGE, status=500, mimetype="text/html")


def message(status: int, text: str) -> Response:
    """Return a JSON error as ClearCare words it."""
    response = jsonify(message=text)
    response.status_code = status
    return response


def relative_path() -> str:
    """Return the request's path below the sandbox's mount point."""
    return request.path[len(g.cc_prefix) :] or "/"


def unknown_path() -> bool:
    """Return whether no vendor route knows the request's path."""
    return (request.endpoint or "").rpartition(".")[2] in UNKNOWN_PATH_ENDPOINTS


def is_read() -> bool:
    """Return whether the request only reads (searches count as reads)."""
    return request.method == "GET" or request.path.rstrip("/").endswith("_search")


def register(bp: Blueprint) -> None:
    """Put the gateway in front of the blueprint's vendor routes."""
    prefixes: dict[str, str] = {}

    @bp.record_once
    def remember_prefix(setup) -> None:
        prefixes["prefix"] = setup.url_prefix or ""

    @bp.before_request
    def guard():
        g.cc_prefix = prefixes["prefix"]
        g.cc_account = None
        path = relative_path()
        if path.startswith(CONTROL_PREFIX):
            g.cc_kind = None
            return None
        if path == TOKEN_PATH:
            g.cc_kind = "token"
        else:
            g.cc_kind = "read" if is_read() else "write"

        rule = request.url_rule
        slash_expected = not rule.rule.endswith(SLASHLESS)
        if unknown_path() or (request.path.endswith("/") != slash_expected):
            g.cc_kind = "refused"
            # The refusal is counted against the account whose token came with it,
            # whatever the scheme, so a test can tell which client erred.
            token = request.headers.get("Authorization", "").rpartition(" ")[2]
            g.cc_account = token_owner(token)[0] if token else None
            return gateway_refusal()

        if path != TOKEN_PATH:
            refusal = authenticate()
            if refusal is not None:
                return refusal

        fault = take_fault(path)
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000)
            if fault.status:
                return faulted(fault.status)
        return None

    @bp.after_request
    def count(response: Response) -> Response:
        kind = getattr(g, "cc_kind", None)
        if kind is None:
            return response
        rule = request.url_rule
        if rule is None or unknown_path():
            route = relative_path()
        else:
            route = rule.rule[len(g.cc_prefix) :]
        account = g.cc_account
        with state().engine.begin() as conn:
            conn.execute(
                store.requests_log.insert().values(
                    account=str(account.agency_id) if account is not None else "",
                    route=f"{request.method} {route}",
                    kind=kind,
                )
            )
        return response


def token_owner(token: str):
    """Return the token's expiry and account, or None for a token never issued."""
    with state().engine.begin() as conn:
        row = conn.execute(
            sa.select(store.tokens.c.expires_at, store.accounts)
            .join(
                store.accounts, store.accounts.c.agency_id == store.tokens.c.agency_id
            )
            .where(store.tokens.c.token == token.strip())
        ).first()
        return row, store.now(conn)


def authenticate() -> Response | None:
    """Find the agency of the bearer token, or answer as the gateway would."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        g.cc_kind = "refused"
        g.cc_account = token_owner(token)[0] if token.strip() else None
        return gateway_refusal()

    row, moment = token_owner(token)
    if row is None or row.expires_at <= moment:
        return message(401, "Unauthorized")
    g.cc_account = row
    if g.cc_kind == "write" and row.refuse_writes:
        return gateway_refusal()
    return None


def take_fault(path: str):
    """Use up one matching fault set by the control API; return it or None."""
    with state().engine.begin() as conn:
        candidates = conn.execute(
            sa.select(store.faults)
            .where(store.faults.c.remaining > 0)
            .order_by(store.faults.c.id)
        ).all()
        for fault in candidates:
            if not path.startswith(fault.path_prefix or ""):
                continue
            taken = conn.execute(
                store.faults.update()
                .where(store.faults.c.id == fault.id, store.faults.c.remaining > 0)
                .values(remaining=store.faults.c.remaining - 1)
            )
            if taken.rowcount:
                return fault
    return None


def faulted(status: int) -> Response:
    """Return the answer ClearCare gives with a status forced by a fault."""
    if status >= 500:
        response = server_error()
        response.status_code = status
        return response
    if status == 403:
        return gateway_refusal()
    return message(status, f"Fault injected by the sandbox ({status}).")
