"""Topology: every subject forwardflow publishes belongs to exactly one stream."""

from __future__ import annotations

import pytest

from forwardflow.broker.topology import Topology


@pytest.fixture
def topology() -> Topology:
    return Topology("FF")


def test_each_subject_family_has_its_stream(topology: Topology) -> None:
    assert topology.stream_for(topology.notice_subject("quickbooks", "123")) == "FF_NOTICES"
    assert topology.stream_for(topology.ledger_subject("123", 7)) == "FF_LEDGER"
    assert topology.stream_for(topology.command_subject("ClosePortfolio")) == "FF_COMMANDS"
    assert topology.stream_for(topology.event_subject("PortfolioClosed")) == "FF_EVENTS"
    assert topology.stream_for(topology.dead_letter_subject("ledger-3")) == "FF_DLQ"


def test_streams_do_not_overlap(topology: Topology) -> None:
    subjects = [s for spec in topology.streams for s in spec.subjects]
    assert len(subjects) == len(set(subjects))
    assert len({spec.name for spec in topology.streams}) == len(topology.streams)


def test_prefix_isolates_installations() -> None:
    a, b = Topology("FF"), Topology("T1")
    assert a.event_subject("X") != b.event_subject("X")
    with pytest.raises(LookupError, match="no forwardflow stream"):
        a.stream_for(b.event_subject("X"))


def test_a_bare_family_root_is_not_captured(topology: Topology) -> None:
    with pytest.raises(LookupError):
        topology.stream_for("ff.event")
