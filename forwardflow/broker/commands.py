"""Commands on the broker: the message a sender publishes and the answer it waits for.

A command goes to the COMMANDS stream with a reply subject in its headers; the command
consumer applies it and answers on that subject (core NATS, not stored). Commands carry
no ``Nats-Msg-Id``: a resend must reach the consumer so its sender gets an answer, and
the inbox makes the resend a no-op (answer ``duplicate``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from faststream.nats import NatsBroker

from debtsale.codec import decode, encode, load_json
from debtsale.commands import Command
from debtsale.errors import DomainError
from forwardflow.broker.envelope import EVENT_ID
from forwardflow.broker.topology import Topology

__all__ = [
    "REPLY_TO",
    "CommandAnswer",
    "CommandTimeoutError",
    "command_message",
    "read_command",
    "send_command",
]

REPLY_TO = "ff-reply-to"


@dataclass(frozen=True, slots=True)
class CommandAnswer:
    """What the service did with a command: an outcome, or refused with the reason."""

    command_id: str
    outcome: str  # applied | duplicate | refused | failed
    error: str = ""

    def to_bytes(self) -> bytes:
        """The answer's wire form."""
        return json.dumps(
            {"command_id": self.command_id, "outcome": self.outcome, "error": self.error}
        ).encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> CommandAnswer:
        """Read an answer."""
        data = json.loads(body)
        return cls(str(data["command_id"]), str(data["outcome"]), str(data.get("error", "")))


class CommandTimeoutError(TimeoutError):
    """No answer in time: the command is stored in the stream and will still be applied."""


def command_message(topology: Topology, command: Command) -> tuple[str, bytes, dict[str, str]]:
    """Subject, body and headers of a command."""
    envelope = encode(command)
    headers = {EVENT_ID: command.command_id, "ff-type": envelope["type"]}
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return topology.command_subject(envelope["type"]), body, headers


def read_command(body: bytes) -> Command:
    """The command in a body; anything else raises DomainError with the reason."""
    envelope = load_json(body)
    if not isinstance(envelope, dict):
        raise DomainError("envelope.shape", "body must be a JSON object")
    command = decode(envelope, floats_refused=True)
    if not isinstance(command, Command):
        raise DomainError("command.type", f"{type(command).__name__} is not a command")
    return command


async def send_command(
    broker: NatsBroker, topology: Topology, command: Command, timeout: float = 30.0
) -> CommandAnswer:
    """Publish ``command`` durably and wait for the service's answer."""
    client = broker.connection
    inbox = client.new_inbox()
    subscription = await client.subscribe(inbox, max_msgs=1)
    try:
        subject, body, headers = command_message(topology, command)
        await client.jetstream().publish(subject, body, headers={**headers, REPLY_TO: inbox})
        try:
            reply = await subscription.next_msg(timeout=timeout)
        except TimeoutError:
            raise CommandTimeoutError(
                f"no answer to {command.command_id} within {timeout:g} s; it is queued and will "
                "be applied when the service runs (is `forwardflow run` up?)"
            ) from None
        return CommandAnswer.from_bytes(reply.data)
    finally:
        await subscription.unsubscribe()
