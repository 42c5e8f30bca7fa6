"""deploy/ stays in step with the code: stream definitions, roles, probes."""

from __future__ import annotations

import json
from pathlib import Path

from forwardflow.broker.topology import Topology
from forwardflow.service import Role

DEPLOY = Path(__file__).parents[2] / "deploy"


def test_the_stream_definitions_match_the_topology() -> None:
    document = json.loads((DEPLOY / "nats" / "jetstream.json").read_text())
    declared = {s["name"]: (s["subjects"], s["max_age_seconds"]) for s in document["streams"]}
    expected = {s.name: (list(s.subjects), int(s.max_age_s)) for s in Topology().streams}
    assert declared == expected


def test_every_role_is_deployed_with_probes() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    for role in Role:
        if role is not Role.ALL:
            assert f'"--role", "{role.value}"' in compose
            manifest = (DEPLOY / "k8s" / f"{role.value}.yaml").read_text()
            assert "path: /healthz" in manifest
            assert "path: /readyz" in manifest
    assert compose.count("--cluster_name") == 3  # a three-node NATS cluster
