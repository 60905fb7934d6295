"""HubSpot's request signatures: the public vector, v3, staleness and tampering."""

from __future__ import annotations

import pytest

from carehub_hubspot import signatures
from hub.canonical import Inbound
from hub.errors import VerificationFailed

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://hub.example.org/hooks/hubspot/tok?objectId=51"
BODY = b'{"vid": 51, "properties": {}}'
NOW = 1_800_000_000.0


def inbound(headers, body=BODY, url=URL, method="POST"):
    return Inbound(method=method, url=url, headers=headers, body=body, query={})


def test_v2_matches_hubspots_published_vector():
    signature = signatures.sign_v2(
        SECRET,
        "POST",
        "https://www.example.com/webhook_uri",
        b'{"example_field":"example_value"}',
    )

    assert (
        signature == "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    )


def test_a_fresh_v3_signature_passes():
    headers = signatures.signed_headers(SECRET, "POST", URL, BODY, int(NOW * 1000))

    assert signatures.verify(inbound(headers), SECRET, NOW) == "v3"


def test_v3_decodes_hubspots_escapes_in_the_url():
    escaped = "https://hub.example.org/hooks/hubspot/tok?email=a%40b.org&x=%2Fy"
    plain = "https://hub.example.org/hooks/hubspot/tok?email=a@b.org&x=/y"
    headers = signatures.signed_headers(SECRET, "POST", plain, BODY, int(NOW * 1000))

    assert signatures.verify(inbound(headers, url=escaped), SECRET, NOW) == "v3"


@pytest.mark.parametrize(
    ("change", "expected"),
    (
        ({"body": BODY + b" "}, "does not match"),
        ({"url": URL + "&more=1"}, "does not match"),
        ({"method": "PUT"}, "does not match"),
        ({"age": 301}, "older than|seconds old"),
        ({"age": -400}, "seconds old"),
        ({"secret": "another-secret"}, "does not match"),
    ),
    ids=("body", "url", "method", "stale", "future", "secret"),
)
def test_tampered_or_stale_v3_fails(change, expected):
    sent_at = NOW - change.get("age", 0)
    headers = signatures.signed_headers(
        change.get("secret", SECRET), "POST", URL, BODY, int(sent_at * 1000)
    )
    request = inbound(
        headers,
        body=change.get("body", BODY),
        url=change.get("url", URL),
        method=change.get("method", "POST"),
    )

    with pytest.raises(VerificationFailed, match=expected):
        signatures.verify(request, SECRET, NOW)


def test_a_bad_timestamp_fails():
    headers = signatures.signed_headers(SECRET, "POST", URL, BODY, int(NOW * 1000))
    headers[signatures.TIMESTAMP_HEADER] = "yesterday"

    with pytest.raises(VerificationFailed, match="timestamp"):
        signatures.verify(inbound(headers), SECRET, NOW)


def test_v2_is_checked_when_only_v2_is_sent():
    headers = {
        "X-HubSpot-Signature": signatures.sign_v2(SECRET, "POST", URL, BODY),
        "X-HubSpot-Signature-Version": "v2",
    }

    assert signatures.verify(inbound(headers), SECRET, NOW) == "v2"
    with pytest.raises(VerificationFailed):
        signatures.verify(inbound(headers, body=b"{}"), SECRET, NOW)


def test_v1_is_checked_for_app_webhooks():
    headers = {"X-HubSpot-Signature": signatures.sign_v1(SECRET, BODY)}

    assert signatures.verify(inbound(headers), SECRET, NOW) == "v1"


def test_an_unsigned_request_fails():
    with pytest.raises(VerificationFailed, match="no HubSpot signature"):
        signatures.verify(inbound({}), SECRET, NOW)
