"""Xero webhooks with the public payloads: 200 with an empty body, or 401, never between."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from connectors.xero.schemas import XeroNotice
from connectors.xero.webhook import MAX_BODY_BYTES, parse_notices, sign, webhook_endpoint

FIXTURES = Path(__file__).parents[2] / "fixtures" / "xero"
KEY = "public-fixture-key"
CONTACT_TENANT = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _post(
    body: bytes, headers: dict[str, str], connected: set[str] | None = None, key: str | None = KEY
) -> tuple[httpx.Response, list[XeroNotice]]:
    published: list[XeroNotice] = []

    async def is_connected(tenants: set[str]) -> set[str]:
        return tenants & (connected if connected is not None else {CONTACT_TENANT})

    async def publish(notices: list[XeroNotice]) -> None:
        published.extend(notices)

    endpoint = webhook_endpoint(lambda: key, is_connected, publish)
    app = Starlette(routes=[Route("/webhooks/xero", endpoint, methods=["POST"])])

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ff") as client:
            return await client.post("/webhooks/xero", content=body, headers=headers)

    return asyncio.run(send()), published


@pytest.mark.parametrize(
    "name",
    [
        "xero_webhook_contact_update_openapi_example.json",
        "xero_webhook_creditnote_create_openapi_example.json",
        "xero_intent_to_receive_docs_example.json",
    ],
)
def test_a_valid_signature_is_answered_200_with_an_empty_body(name: str) -> None:
    body = _fixture(name)
    response, _ = _post(body, {"x-xero-signature": sign(body, KEY)})
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    "name",
    [
        "xero_webhook_contact_update_openapi_example.json",
        "xero_intent_to_receive_docs_example.json",
    ],
)
def test_one_byte_changed_a_wrong_key_or_no_header_is_401(name: str) -> None:
    body = _fixture(name)
    good = sign(body, KEY)
    changed = body.replace(b"S0m3r4Nd0mt3xt", b"S0m3r4Nd0mt3xT")
    assert changed != body
    for sent, headers in (
        (changed, {"x-xero-signature": good}),
        (body, {"x-xero-signature": sign(body, "another key")}),
        (body, {}),
    ):
        response, published = _post(sent, headers)
        assert response.status_code == 401
        assert published == []


def test_a_contact_event_becomes_one_notice_for_a_connected_tenant() -> None:
    body = _fixture("xero_webhook_contact_update_openapi_example.json")
    response, published = _post(body, {"x-xero-signature": sign(body, KEY)})
    assert response.status_code == 200
    assert [(n.tenant_id, n.category, n.event_type) for n in published] == [
        (CONTACT_TENANT, "CONTACT", "UPDATE")
    ]
    assert published[0].occurred is not None


def test_an_unknown_tenant_is_answered_200_and_dropped() -> None:
    body = _fixture("xero_webhook_creditnote_create_openapi_example.json")
    response, published = _post(body, {"x-xero-signature": sign(body, KEY)}, connected=set())
    assert (response.status_code, response.content, published) == (200, b"", [])


def test_an_over_large_body_is_refused_unread() -> None:
    body = b'{"events": [], "entropy": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response, _ = _post(body, {"x-xero-signature": sign(body, KEY)})
    assert response.status_code == 413


def test_no_key_configured_never_accepts() -> None:
    body = _fixture("xero_intent_to_receive_docs_example.json")
    response, _ = _post(body, {"x-xero-signature": sign(body, KEY)}, key=None)
    assert response.status_code == 503


def test_the_same_event_twice_in_a_body_is_one_notice_with_a_stable_id() -> None:
    body = _fixture("xero_webhook_creditnote_create_openapi_example.json")
    first = parse_notices(body)
    assert len(first) == 1
    assert [n.event_id for n in parse_notices(body)] == [first[0].event_id]


def test_the_webhook_key_comes_from_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from connectors.xero.settings import XeroSettings
    from forwardflow.settings import load_settings

    monkeypatch.setenv("FORWARDFLOW_XERO__WEBHOOK_KEY", "from-the-environment")
    section = load_settings().platform("xero")
    assert isinstance(section, XeroSettings)
    assert section.webhook_key is not None
    assert section.webhook_key.get_secret_value() == "from-the-environment"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_EVENT_KEYS = st.fixed_dictionaries(
    {
        "events": st.lists(
            st.dictionaries(
                st.sampled_from(
                    [
                        "resourceId",
                        "tenantId",
                        "eventCategory",
                        "eventType",
                        "eventDateUtc",
                        "resourceUrl",
                    ]
                ),
                _JSON,
                max_size=6,
            ),
            max_size=3,
        )
    }
)


@settings(max_examples=60, deadline=None)
@given(st.one_of(_JSON, _EVENT_KEYS))
def test_fuzz_a_signed_body_is_never_a_server_error(data: object) -> None:
    body = json.dumps(data).encode()
    response, _ = _post(body, {"x-xero-signature": sign(body, KEY)})
    assert response.status_code in (200, 400)
    assert response.content == b""
