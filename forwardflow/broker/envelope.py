"""Messages on the broker: a JSON envelope (type, tenant, data) and its headers."""

from __future__ import annotations

import json
from typing import Any

from debtsale.changes import CustomerMerged, LedgerChange
from debtsale.codec import decode, encode, load_json
from debtsale.errors import DomainError
from debtsale.ledger import entity_of
from forwardflow.broker.topology import Topology

__all__ = ["EVENT_ID", "MSG_ID", "ledger_message", "partition_key", "read_envelope"]

EVENT_ID = "event_id"
MSG_ID = "Nats-Msg-Id"


def partition_key(change: LedgerChange) -> str:
    """The customer a change concerns when it names one, else the entity itself.

    Facts are last-writer-wins per entity, so correctness does not hang on the
    partition; keeping a customer's changes together keeps them in order and local.
    """
    customer = getattr(change, "customer_id", None)
    if isinstance(change, CustomerMerged):
        customer = change.merged_id
    if customer:
        return f"customer:{customer}"
    kind, entity_id = entity_of(change)
    return f"{kind}:{entity_id}"


def ledger_message(
    topology: Topology, tenant: str, change: LedgerChange
) -> tuple[str, bytes, dict[str, str]]:
    """Subject, body and headers of a ledger change, deduplicated by its event id."""
    envelope = {**encode(change), "tenant": tenant}
    subject = topology.ledger_subject(tenant, topology.partition_of(partition_key(change)))
    headers = {
        EVENT_ID: change.event_id,
        MSG_ID: change.event_id,
        "ff-type": envelope["type"],
        "ff-tenant": tenant,
    }
    return subject, json.dumps(envelope, separators=(",", ":")).encode(), headers


def read_envelope(body: bytes) -> tuple[str, Any]:
    """The tenant and message of a body; malformed input raises DomainError with the reason."""
    envelope = load_json(body)
    if not isinstance(envelope, dict):
        raise DomainError("envelope.shape", "body must be a JSON object")
    tenant = envelope.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise DomainError("envelope.tenant", "missing 'tenant'")
    return tenant, decode(envelope, floats_refused=True)
