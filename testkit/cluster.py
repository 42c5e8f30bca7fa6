"""A three-node NATS JetStream cluster on loopback, from the packaged ``nats-server``.

Production runs forwardflow against a NATS cluster with replicated (R3) streams; tests
prove scale-out and failover against the same shape: each node has its own client port,
route port and store directory, the routes join them into one cluster, and a node can
be killed (``kill -9``) and started again on its own store.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import nats
from nats.errors import Error as NatsError

from forwardflow.broker.embedded import find_nats_server
from forwardflow.net import free_port, greets

__all__ = ["ClusterNode", "NatsCluster"]

_READY_TIMEOUT_S = 30.0


@dataclass
class ClusterNode:
    """One server of the cluster: its name, ports, files and process."""

    name: str
    port: int
    route_port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Its client URL."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        """True while its process runs."""
        return self.process is not None and self.process.poll() is None


@dataclass
class NatsCluster:
    """``size`` JetStream servers routed into one cluster under ``folder``."""

    folder: Path
    size: int = 3
    binary: Path | None = None
    name: str = "ff-test"
    nodes: list[ClusterNode] = field(default_factory=list)

    @property
    def urls(self) -> str:
        """Every node's client URL, comma-separated (the form ``broker.url`` takes)."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> Self:
        """Start every node and wait until JetStream has a meta leader."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.nodes = [
            ClusterNode(f"n{n}", free_port(), free_port(), self.folder / f"n{n}")
            for n in range(1, self.size + 1)
        ]
        for node in self.nodes:
            self._launch(node)
        self.wait_ready()
        return self

    def _config(self, node: ClusterNode) -> str:
        routes = ", ".join(
            f'"nats-route://127.0.0.1:{other.route_port}"'
            for other in self.nodes
            if other is not node
        )
        return (
            f'server_name: "{node.name}"\n'
            f'listen: "127.0.0.1:{node.port}"\n'
            f'jetstream {{ store_dir: "{node.folder / "js"}" }}\n'
            f"cluster {{\n"
            f'  name: "{self.name}"\n'
            f'  listen: "127.0.0.1:{node.route_port}"\n'
            f"  routes: [{routes}]\n"
            f"}}\n"
        )

    def _launch(self, node: ClusterNode) -> None:
        node.folder.mkdir(parents=True, exist_ok=True)
        config = node.folder / "server.conf"
        config.write_text(self._config(node))
        node.process = subprocess.Popen(
            [str(find_nats_server(self.binary)), "-c", str(config), "-l", str(node.folder / "log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = _READY_TIMEOUT_S) -> None:
        """Wait until the live nodes accept clients and JetStream answers (a leader exists)."""
        deadline = time.monotonic() + timeout
        live = [node for node in self.nodes if node.alive]
        while not all(greets(node.port, b"INFO") for node in live):
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster nodes did not start: {self.log_tail()}")
            time.sleep(0.05)
        while not asyncio.run(_jetstream_answers(",".join(n.url for n in live))):
            if time.monotonic() > deadline:
                raise TimeoutError(f"JetStream elected no leader: {self.log_tail()}")
            time.sleep(0.2)

    def kill(self, index: int) -> ClusterNode:
        """``kill -9`` one node (its store stays); the cluster carries on with the others."""
        node = self.nodes[index]
        if node.process is not None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=10)
        return node

    def restart(self, index: int) -> None:
        """Start a killed node again on its own store; it catches up from its peers."""
        self._launch(self.nodes[index])
        self.wait_ready()

    def stop(self) -> None:
        """Stop every node and wait for the processes to go."""
        for node in self.nodes:
            if node.alive and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of every node's log, for a failure message."""
        parts = []
        for node in self.nodes:
            try:
                tail = (node.folder / "log").read_text().splitlines()[-lines:]
            except OSError:
                tail = ["(no log)"]
            parts.append(f"[{node.name}] " + " | ".join(tail))
        return "\n".join(parts)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _jetstream_answers(servers: str) -> bool:
    try:
        connection = await nats.connect(servers=servers.split(","), connect_timeout=2)
    except (NatsError, OSError, TimeoutError):
        return False
    try:
        await connection.jetstream().account_info()
        return True
    except (NatsError, OSError, TimeoutError):
        return False
    finally:
        await connection.close()
