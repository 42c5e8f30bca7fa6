"""Publishing onto forwardflow's streams, for parts that must not know the broker library.

The HTTP app, the service's loops and the platforms publish change notices and ledger
changes through a ``Bus``; only the broker package talks to NATS itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from faststream.nats import NatsBroker

from debtsale.changes import LedgerChange
from forwardflow.broker.envelope import EVENT_ID, MSG_ID, ledger_message
from forwardflow.broker.topology import Topology

__all__ = ["Bus"]

_AT_ONCE = 256
_BLOCKING_TIMEOUT_S = 300.0


class Bus:
    """A connected broker, its topology and the event loop it runs on."""

    def __init__(self, broker: NatsBroker, topology: Topology) -> None:
        self.broker = broker
        self.topology = topology
        self._loop = asyncio.get_running_loop()

    @property
    def connected(self) -> bool:
        """True while the client is connected to a server."""
        return bool(self.broker.connection.is_connected)

    async def publish_notices(
        self, platform: str, notices: Sequence[tuple[str, str, bytes]]
    ) -> None:
        """Webhook notices ``(company, event id, body)`` to the NOTICES stream, 256 at once.

        Published in bulk, not one round trip after the other: a big webhook body is
        answered in milliseconds; the stream drops a notice id seen in its window.
        """
        jetstream = self.broker.connection.jetstream()
        for start in range(0, len(notices), _AT_ONCE):
            await asyncio.gather(
                *(
                    jetstream.publish(
                        self.topology.notice_subject(platform, company),
                        body,
                        headers={EVENT_ID: event_id, MSG_ID: event_id},
                    )
                    for company, event_id, body in notices[start : start + _AT_ONCE]
                )
            )

    async def publish_changes(self, tenant: str, changes: Sequence[LedgerChange]) -> None:
        """Ledger changes to the LEDGER stream, in order, each deduplicated by its event id."""
        jetstream = self.broker.connection.jetstream()
        for change in changes:
            subject, body, headers = ledger_message(self.topology, tenant, change)
            await jetstream.publish(subject, body, headers=headers)

    def client_state(self) -> tuple[bool, bool]:
        """(closed, connected) of the broker client; a stopped broker reads as closed."""
        try:
            client = self.broker.connection
        except Exception:  # FastStream raises when the broker was stopped
            return True, False
        return bool(client.is_closed), bool(client.is_connected)

    async def last_sequence(self, stream: str) -> int:
        """The stream's last sequence (it only grows, even when messages are purged)."""
        info = await self.broker.connection.jetstream().stream_info(stream)
        return int(info.state.last_seq)

    async def stream_messages(self, stream: str) -> int:
        """How many messages the stream holds."""
        info = await self.broker.connection.jetstream().stream_info(stream)
        return int(info.state.messages)

    async def consumers(self, stream: str) -> list[tuple[str, int, int]]:
        """Each consumer of the stream: (name, waiting or in flight, redelivered)."""
        infos: Any = await self.broker.connection.jetstream().consumers_info(stream)
        return [
            (info.name, info.num_pending + info.num_ack_pending, info.num_redelivered)
            for info in infos
        ]

    def blocking_publisher(self, tenant: str) -> Callable[[Sequence[LedgerChange]], None]:
        """A publish for work on a thread: returns once the broker has every change."""

        def publish(changes: Sequence[LedgerChange]) -> None:
            asyncio.run_coroutine_threadsafe(
                self.publish_changes(tenant, changes), self._loop
            ).result(timeout=_BLOCKING_TIMEOUT_S)

        return publish
