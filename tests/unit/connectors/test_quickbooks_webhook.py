"""QuickBooks webhooks on the shared fixtures: signatures, both body shapes, HTTP answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from connectors.quickbooks.schemas import ChangeNotice
from connectors.quickbooks.webhook import (
    MalformedBodyError,
    SignatureError,
    parse_notices,
    sign,
    verify_signature,
    webhook_endpoint,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "quickbooks"
TOKEN = "verifier-token-for-tests"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_the_legacy_sample_verifies_and_parses() -> None:
    body = _fixture("qbo_webhook_legacy_intuit_docs_sample.json")
    verify_signature(body, sign(body, TOKEN), TOKEN)
    notices = parse_notices(body)
    assert [(n.realm_id, n.entity, n.entity_id, n.operation) for n in notices] == [
        ("1185883450", "Customer", "1", "created"),
        ("1185883450", "Vendor", "1", "created"),
    ]
    assert notices[0].occurred is not None
    assert notices[0].occurred.utcoffset() is not None
    assert notices[0].event_id != notices[1].event_id
    assert notices[0].event_id == parse_notices(body)[0].event_id  # deterministic


def test_the_cloudevents_sample_verifies_and_parses() -> None:
    body = _fixture("qbo_webhook_cloudevents_intuit_blog_sample.json")
    verify_signature(body, sign(body, TOKEN), TOKEN)
    (notice,) = parse_notices(body)
    assert (notice.realm_id, notice.entity, notice.entity_id, notice.operation) == (
        "310687",
        "Account",
        "1234",
        "created",
    )
    assert notice.event_id == "qbo-ce:88cd52aa-33b6-4351-9aa4-47572edbd068"
    assert notice.occurred is not None  # nanoseconds trimmed, Z understood


@pytest.mark.parametrize("action", ["void", "voided"])
def test_void_and_voided_both_mean_voided(action: str) -> None:
    event = json.loads(_fixture("qbo_webhook_cloudevents_intuit_blog_sample.json"))[0]
    event.update(type=f"qbo.invoice.{action}.v1", surprise={"new": "field"})
    (notice,) = parse_notices(json.dumps([event]).encode())
    assert (notice.entity, notice.operation) == ("Invoice", "voided")


def test_a_merge_carries_the_merged_away_id() -> None:
    event = json.loads(_fixture("qbo_webhook_cloudevents_intuit_blog_sample.json"))[0]
    event.update(type="qbo.customer.merged.v1", intuitentityid="7", data={"deletedId": "9"})
    (notice,) = parse_notices(json.dumps([event]).encode())
    assert (notice.operation, notice.entity_id, notice.deleted_id) == ("merged", "7", "9")


def test_a_tampered_byte_or_a_wrong_token_is_refused() -> None:
    body = _fixture("qbo_webhook_legacy_intuit_docs_sample.json")
    signature = sign(body, TOKEN)
    tampered = body.replace(b"1185883450", b"1185883451")
    with pytest.raises(SignatureError):
        verify_signature(tampered, signature, TOKEN)
    with pytest.raises(SignatureError):
        verify_signature(body, signature, "another-token")
    with pytest.raises(SignatureError, match="missing"):
        verify_signature(body, None, TOKEN)
    reserialised = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    with pytest.raises(SignatureError):
        verify_signature(reserialised, signature, TOKEN)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not JSON"),
        (b'{"hello": 1}', "expected a CloudEvents array"),
        (b'[{"id": "x"}]', "specversion"),
        (b'{"eventNotifications": [{"dataChangeEvent": {}}]}', "realmId"),
    ],
)
def test_a_malformed_body_says_what_is_wrong(body: bytes, words: str) -> None:
    with pytest.raises(MalformedBodyError, match=words):
        parse_notices(body)


class _Recorder:
    def __init__(self) -> None:
        self.published: list[ChangeNotice] = []

    async def connected(self, realms: set[str]) -> set[str]:
        return realms & {"310687"}

    async def publish(self, notices: list[ChangeNotice]) -> None:
        self.published.extend(notices)


def _client(recorder: _Recorder) -> httpx.AsyncClient:
    endpoint = webhook_endpoint(lambda: TOKEN, recorder.connected, recorder.publish)
    app = Starlette(routes=[Route("/webhooks/quickbooks", endpoint, methods=["POST"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ff")


async def _post(client: httpx.AsyncClient, body: bytes, signature: str | None) -> int:
    headers = {"content-type": "application/cloudevents-batch+json"}
    if signature is not None:
        headers["intuit-signature"] = signature
    response = await client.post("/webhooks/quickbooks", content=body, headers=headers)
    return response.status_code


@pytest.mark.anyio
async def test_the_http_endpoint_answers_as_intuit_expects() -> None:
    recorder = _Recorder()
    cloud = _fixture("qbo_webhook_cloudevents_intuit_blog_sample.json")
    legacy = _fixture("qbo_webhook_legacy_intuit_docs_sample.json")
    bad = b'{"eventNotifications": "nope"}'
    huge = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    async with _client(recorder) as client:
        assert await _post(client, cloud, sign(cloud, TOKEN)) == 200
        assert [n.realm_id for n in recorder.published] == ["310687"]
        assert await _post(client, legacy, sign(legacy, TOKEN)) == 200  # not connected
        assert len(recorder.published) == 1
        assert await _post(client, cloud, sign(cloud, "wrong")) == 401
        assert await _post(client, cloud, None) == 401
        assert await _post(client, bad, sign(bad, TOKEN)) == 400
        assert await _post(client, huge, sign(huge, TOKEN)) == 413
    assert len(recorder.published) == 1
