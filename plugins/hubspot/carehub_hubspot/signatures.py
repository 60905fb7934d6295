"""HubSpot's request signatures (v1, v2, v3), made and checked over the raw body.

HubSpot signs with the client secret of the app whose id a workflow's webhook action
names. The URL in a signature is the one HubSpot called, which the hub rebuilds from
``HUB_PUBLIC_URL`` and the path and query as received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from hub.canonical import Inbound
from hub.errors import VerificationFailed

#: The oldest v3 signature accepted, in milliseconds.
MAX_AGE_MS = 5 * 60 * 1000

V3_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
SIGNATURE_HEADER = "X-HubSpot-Signature"
VERSION_HEADER = "X-HubSpot-Signature-Version"

#: The escapes HubSpot decodes in the URL before it signs it with v3.
_V3_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_V3_ESCAPE = re.compile("|".join(_V3_DECODED), re.IGNORECASE)


def v3_uri(url: str) -> str:
    """Return the URL as v3 signs it, with HubSpot's list of escapes decoded."""
    return _V3_ESCAPE.sub(lambda m: _V3_DECODED[m.group(0).upper()], url)


def sign_v1(secret: str, body: bytes) -> str:
    """Return the v1 signature: hex SHA-256 of the secret and the body."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, url: str, body: bytes) -> str:
    """Return the v2 signature: hex SHA-256 of secret, method, URL and body."""
    return hashlib.sha256((secret + method + url).encode() + body).hexdigest()


def sign_v3(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    """Return the v3 signature: base64 HMAC-SHA256 of method, URL, body, timestamp."""
    message = (method + v3_uri(url)).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()

    return base64.b64encode(digest).decode()


def signed_headers(
    secret: str, method: str, url: str, body: bytes, now_ms: int
) -> dict[str, str]:
    """Return the headers HubSpot would send with a v3-signed request."""
    timestamp = str(now_ms)
    return {
        V3_HEADER: sign_v3(secret, method, url, body, timestamp),
        TIMESTAMP_HEADER: timestamp,
    }


def verify(inbound: Inbound, secret: str, now: float) -> str:
    """Check an inbound request's signature; return the version that matched.

    v3 is checked when sent; otherwise v2 (or v1, for app webhooks).

    :param now: the current time in seconds.
    :raises hub.errors.VerificationFailed: unsigned, stale or not matching.
    """
    v3 = inbound.header(V3_HEADER)
    if v3:
        _verify_v3(inbound, secret, v3, now)
        return "v3"

    signature = inbound.header(SIGNATURE_HEADER)
    if not signature:
        raise VerificationFailed(
            "The request carries no HubSpot signature, but this connection has an app "
            "secret set, so every webhook must be signed."
        )
    version = (inbound.header(VERSION_HEADER) or "v1").lower()
    if version == "v2":
        expected = sign_v2(secret, inbound.method, inbound.url, inbound.body)
    elif version == "v1":
        expected = sign_v1(secret, inbound.body)
    else:
        raise VerificationFailed(f"HubSpot signature version {version!r} is unknown.")
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise VerificationFailed(
            f"The HubSpot signature ({version}) does not match. Check that the app "
            "secret in the HubSpot settings belongs to the app the workflow names."
        )

    return version


def _verify_v3(inbound: Inbound, secret: str, signature: str, now: float) -> None:
    timestamp = inbound.header(TIMESTAMP_HEADER) or ""
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise VerificationFailed(
            "The request's HubSpot timestamp is missing or not a number."
        ) from None
    age = now * 1000 - sent_ms
    if abs(age) > MAX_AGE_MS:
        raise VerificationFailed(
            f"The request's HubSpot signature is {int(age / 1000)} seconds old; only "
            "signatures younger than 5 minutes are accepted."
        )

    expected = sign_v3(secret, inbound.method, inbound.url, inbound.body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise VerificationFailed(
            "The HubSpot signature (v3) does not match. Check that the app secret in "
            "the HubSpot settings belongs to the app the workflow names."
        )
