"""QuickBooks webhooks on the shared fixtures: signatures, both body shapes, HTTP answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from connectors.quickbooks.schemas import ChangeNotice
from connectors.quickbooks.webhook import (
    MalformedBodyError,
    SignatureError,
    check_bounds,
    coalesce,
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
        for notice in notices:  # what a JetStream publish refuses (as the real one would)
            if not (notice.event_id.isascii() and notice.event_id.isprintable()):
                raise ValueError("a message id header must be printable ASCII")
            if any(c in notice.realm_id for c in ".*> \t\r\n") or not notice.realm_id:
                raise ValueError("not a subject token")
        self.published.extend(notices)


def _client(recorder: _Recorder) -> httpx.AsyncClient:
    endpoint = webhook_endpoint(lambda: TOKEN, recorder.connected, recorder.publish)
    app = Starlette(routes=[Route("/webhooks/quickbooks", endpoint, methods=["POST"])])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is a 500
    return httpx.AsyncClient(transport=transport, base_url="http://ff")


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


def _event(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {
        "specversion": "1.0",
        "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
        "type": "qbo.invoice.updated.v1",
        "time": "2025-09-10T21:31:25Z",
        "intuitentityid": "1234",
        "intuitaccountid": "310687",
    }
    event.update(fields)
    return event


_DEEP = b"[" * 100_000 + b"]" * 100_000
_HOSTILE = {
    "100k-deep nesting": _DEEP,
    "deep inside an object": b'{"eventNotifications": ' + _DEEP + b"}",
    "5,000-digit integer": b'[{"id": ' + b"9" * 5000 + b"}]",
    "5,000-digit float": b"[" + b"9" * 5000 + b".5]",
    "1.5 MB event id": json.dumps([_event(id="x" * 1_500_000)]).encode(),
    "realm with a subject wildcard": json.dumps([_event(intuitaccountid="a.b.>")]).encode(),
    "realm with a path": json.dumps([_event(intuitaccountid="../../etc")]).encode(),
    "realm with SQL": json.dumps([_event(intuitaccountid="310687' OR 1=1 --")]).encode(),
    "entity id with a path": json.dumps([_event(intuitentityid="1/../../x")]).encode(),
    "event id with a newline": json.dumps([_event(id="a\r\nNats-Msg-Id: b")]).encode(),
    "non-ASCII event id": json.dumps([_event(id="é")]).encode(),
    "deletedId is an object": json.dumps([_event(data={"deletedId": {"a": 1}})]).encode(),
    "legacy realm with a wildcard": json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "*",
                    "dataChangeEvent": {
                        "entities": [{"name": "Invoice", "id": "1", "operation": "Update"}]
                    },
                }
            ]
        }
    ).encode(),
    "lone surrogate": b'[{"id": "\\ud800"}]',
    "invalid UTF-8": b'[{"id": "\xff\xfe"}]',
}


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(_HOSTILE))
async def test_a_signed_hostile_body_is_a_clear_400_and_publishes_nothing(name: str) -> None:
    body = _HOSTILE[name]
    recorder = _Recorder()
    async with _client(recorder) as client:
        response = await client.post(
            "/webhooks/quickbooks", content=body, headers={"intuit-signature": sign(body, TOKEN)}
        )
    assert response.status_code == 400, response.text
    assert len(response.json()["error"]) <= 500
    assert recorder.published == []


def test_nesting_and_numbers_are_bounded_before_the_parser_runs() -> None:
    with pytest.raises(MalformedBodyError, match="nests deeper"):
        check_bounds(_DEEP)
    check_bounds(b'[{"text": "' + b"[" * 1000 + b'"}]')  # brackets inside strings are text


def test_a_flood_for_one_company_is_one_catch_up_notice_others_stay_as_they_are() -> None:
    events = [_event(id=f"e{n}", intuitentityid=str(1000 + n)) for n in range(10_000)]
    events += [_event(id=f"dup{n}", intuitentityid="1000") for n in range(3)]  # same entity
    events.append(_event(id="other", intuitaccountid="777", intuitentityid="5"))
    notices = coalesce(parse_notices(json.dumps(events).encode()))
    flood, other = sorted(notices, key=lambda n: n.realm_id)
    assert flood.realm_id == "310687"
    assert flood.is_coalesced
    assert flood.coalesced == 10_000  # three duplicates of one entity are one
    assert flood.event_id == coalesce(parse_notices(json.dumps(events).encode()))[0].event_id
    assert (other.realm_id, other.entity_id, other.is_coalesced) == ("777", "5", False)


def test_a_few_notices_are_deduplicated_by_entity_but_not_coalesced() -> None:
    events = [_event(id=f"e{n}", intuitentityid=str(n % 3 + 1)) for n in range(9)]
    notices = coalesce(parse_notices(json.dumps(events).encode()))
    assert sorted(n.entity_id for n in notices) == ["1", "2", "3"]
    assert not any(n.is_coalesced for n in notices)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=25,
)
_IDS = st.sampled_from(["310687", "1234", "0", "1" * 20]) | st.text(max_size=30) | _SCALARS


def _mostly(
    valid: st.SearchStrategy[object], wild: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    """Usually a value QuickBooks sends, now and then anything: bodies get past the first
    check often enough to reach parsing, filtering and publishing."""
    return st.integers(0, 3).flatmap(lambda n: wild if n == 0 else valid)


_CLOUD = st.lists(
    st.fixed_dictionaries(
        {
            "specversion": _mostly(st.just("1.0"), _SCALARS),
            "id": _mostly(st.uuids().map(str), st.text(max_size=200) | _SCALARS),
            "type": _mostly(
                st.sampled_from(
                    ["qbo.invoice.updated.v1", "qbo.payment.voided.v1", "qbo.customer.merged.v1"]
                ),
                st.text(max_size=40),
            ),
            "intuitentityid": _mostly(st.integers(1, 10**6).map(str), _IDS),
            "intuitaccountid": _mostly(st.just("310687"), _IDS),  # the connected company
        },
        optional={
            "time": _mostly(st.just("2025-09-10T21:31:25.179851517Z"), st.text(max_size=40)),
            "data": _mostly(
                st.fixed_dictionaries({}, optional={"deletedId": st.integers(1, 99).map(str)}),
                st.dictionaries(st.sampled_from(["deletedId", "x"]), _JSON) | _JSON,
            ),
        },
    ),
    max_size=4,
)
_LEGACY = st.fixed_dictionaries(
    {
        "eventNotifications": st.lists(
            st.fixed_dictionaries(
                {
                    "realmId": _IDS,
                    "dataChangeEvent": st.fixed_dictionaries(
                        {
                            "entities": st.lists(
                                st.fixed_dictionaries(
                                    {"name": st.text(max_size=12), "id": _IDS},
                                    optional={
                                        "operation": st.text(max_size=10),
                                        "lastUpdated": st.text(max_size=40),
                                        "deletedId": _IDS,
                                    },
                                ),
                                max_size=4,
                            )
                        }
                    )
                    | _JSON,
                }
            ),
            max_size=3,
        )
    }
)


def _encoded(value: object, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(_JSON, _CLOUD, _LEGACY), ascii_only=st.booleans())
def test_fuzz_signed_random_json_is_never_a_server_error(body: object, ascii_only: bool) -> None:
    """Whatever a correctly signed body holds, the endpoint answers 200 or 400 (or 413)."""
    raw = _encoded(body, ascii_only)
    recorder = _Recorder()

    async def post() -> httpx.Response:
        async with _client(recorder) as client:
            return await client.post(
                "/webhooks/quickbooks", content=raw, headers={"intuit-signature": sign(raw, TOKEN)}
            )

    response = asyncio.run(post())
    assert response.status_code in (200, 400, 413), (raw[:300], response.text)
    for notice in recorder.published:  # what is published can become a subject and headers
        assert notice.realm_id.isdigit()


@pytest.mark.anyio
async def test_a_broker_that_cannot_take_the_notices_is_a_503_intuit_retries() -> None:
    async def connected(realms: set[str]) -> set[str]:
        return realms

    async def broken(notices: list[ChangeNotice]) -> None:
        raise ConnectionError("broker down")

    endpoint = webhook_endpoint(lambda: TOKEN, connected, broken)
    app = Starlette(routes=[Route("/webhooks/quickbooks", endpoint, methods=["POST"])])
    body = _fixture("qbo_webhook_cloudevents_intuit_blog_sample.json")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ff"
    ) as client:
        answer = await client.post(
            "/webhooks/quickbooks", content=body, headers={"intuit-signature": sign(body, TOKEN)}
        )
    assert answer.status_code == 503
