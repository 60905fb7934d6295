"""HubSpot's request signatures, as its workflow webhooks carry them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

#: The escapes HubSpot decodes in the URI before it signs with v3.
V3_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
_ESCAPE = re.compile("|".join(V3_DECODED), re.IGNORECASE)


def v3_uri(uri: str) -> str:
    """Return a URI with the escapes decoded that v3 signs in their plain form."""
    return _ESCAPE.sub(lambda match: V3_DECODED[match.group(0).upper()], uri)


def v2(secret: str, method: str, uri: str, body: bytes) -> str:
    """Return the v2 signature: hex SHA-256 of secret, method, URI and body."""
    source = secret.encode() + method.upper().encode() + uri.encode() + body

    return hashlib.sha256(source).hexdigest()


def v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Return the v3 signature: base64 HMAC-SHA256 of method, URI, body, timestamp."""
    source = method.upper().encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()

    return base64.b64encode(digest).decode()


def headers(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> dict:
    """Return the signature headers of one workflow webhook request."""
    return {
        "X-HubSpot-Signature": v2(secret, method, uri, body),
        "X-HubSpot-Signature-Version": "v2",
        "X-HubSpot-Signature-v3": v3(secret, method, v3_uri(uri), body, timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
