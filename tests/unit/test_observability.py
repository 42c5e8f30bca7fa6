"""The alert rules and the dashboard name only metrics the code exports; promtool accepts
the rules; readiness remembers each check's state and since when."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

import yaml

from forwardflow.metrics import Metrics
from forwardflow.readiness import Readiness
from testkit.services import promtool_binary, require

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "forwardflow.json"
_METRIC = re.compile(r"\b((?:forwardflow|faststream)_[a-z0-9_]+)\b")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported() -> set[str]:
    metrics = Metrics()
    metrics.middleware()  # FastStream's message metrics join the same registry
    names = set()
    for family in metrics.registry.collect():
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
    return names


def _rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = require(promtool_binary)
    checked = subprocess.run(
        [str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_rules_cover_what_operators_are_paged_for() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    assert {
        "ForwardflowConsumerLag",
        "ForwardflowDeadLetters",
        "ForwardflowDeliveryFailing",
        "ForwardflowTokenExpiringSoon",
        "ForwardflowCatchUpStale",
        "ForwardflowOwedToBuyerOverdue",
    } <= alerts
    runbook = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    for alert in alerts:
        assert f"### {alert}" in runbook, f"docs/operations.md does not explain {alert}"


def test_every_metric_in_the_rules_and_the_dashboard_is_exported() -> None:
    exported = _exported()
    expressions = _rule_expressions() + _dashboard_expressions()
    named = {name for expr in expressions for name in _METRIC.findall(expr)}
    assert named, "no metric found in the expressions"
    assert named <= exported, f"not exported by the code: {sorted(named - exported)}"
    assert "faststream_received_messages_total" in exported


def test_the_dashboard_loads_with_a_target_in_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "forwardflow"
    assert all(panel["targets"] for panel in dashboard["panels"])


def test_readiness_says_what_fails_since_when_and_heals() -> None:
    readiness = Readiness()
    state: dict[str, str | None] = {"a": None, "b": None}

    async def parts() -> dict[str, str | None]:
        return dict(state)

    async def broken() -> str | None:
        raise OSError("refused")

    readiness.add("buyer-sftp", parts)
    ready, body = readiness.report()
    assert not ready
    assert body["status"] == "starting"
    asyncio.run(readiness.poll_once())
    ready, body = readiness.report()
    assert ready
    assert set(body["checks"]) == {"buyer-sftp:a", "buyer-sftp:b"}
    state["b"] = "127.0.0.1:22 unreachable"
    asyncio.run(readiness.poll_once())
    ready, body = readiness.report()
    assert not ready
    failing = body["checks"]["buyer-sftp:b"]
    assert failing["status"] == "failing"
    assert failing["detail"] == "127.0.0.1:22 unreachable"
    since = failing["since"]
    asyncio.run(readiness.poll_once())
    assert readiness.report()[1]["checks"]["buyer-sftp:b"]["since"] == since  # still failing
    del state["b"]  # the buyer is gone: so is its check
    readiness.add("store", broken)
    asyncio.run(readiness.poll_once())
    ready, body = readiness.report()
    assert not ready
    assert "buyer-sftp:b" not in body["checks"]
    assert body["failing"] == ["store: check failed: OSError: refused"]
