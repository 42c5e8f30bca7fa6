"""The embedded nats-server: starts on loopback, persists across restarts, leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nats
import pytest

from forwardflow.broker.embedded import EmbeddedNats, EmbeddedNatsError, find_nats_server
from forwardflow.broker.runtime import connect_broker
from forwardflow.settings import load_settings
from testkit import ServiceUnavailableError, require

pytestmark = [pytest.mark.nats, pytest.mark.anyio]


@pytest.fixture
def nats_binary() -> Path:
    def find() -> Path:
        try:
            return find_nats_server()
        except EmbeddedNatsError as error:
            raise ServiceUnavailableError(str(error)) from None

    return require(find)


def _gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        status = Path(f"/proc/{pid}/status").read_text(errors="replace")
        if "State:\tZ" in status:
            return True
        time.sleep(0.05)
    return False


async def _publish(url: str, subject: str, body: bytes) -> None:
    client = await nats.connect(url)
    try:
        jetstream = client.jetstream()
        await jetstream.add_stream(name="KEEP", subjects=["keep.>"])
        await jetstream.publish(subject, body)
    finally:
        await client.close()


async def _last(url: str, subject: str) -> bytes:
    client = await nats.connect(url)
    try:
        message = await client.jetstream().get_last_msg("KEEP", subject)
        return bytes(message.data or b"")
    finally:
        await client.close()


async def test_a_published_message_survives_stop_and_start(
    tmp_path: Path, nats_binary: Path
) -> None:
    server = EmbeddedNats(tmp_path, binary=nats_binary).start()
    first_pid = server.pid
    assert server.url.startswith("nats://127.0.0.1:")
    await _publish(server.url, "keep.one", b"kept across a restart")
    server.stop()
    assert first_pid is not None
    assert _gone(first_pid)
    assert not server.state_file.exists()

    with EmbeddedNats(tmp_path, binary=nats_binary) as again:
        assert again.pid != first_pid
        assert await _last(again.url, "keep.one") == b"kept across a restart"
    assert again.pid is not None
    assert _gone(again.pid)


def test_listens_on_loopback_only(tmp_path: Path, nats_binary: Path) -> None:
    with EmbeddedNats(tmp_path, binary=nats_binary) as server:
        listening = subprocess.run(
            ["ss", "-ltnp"], capture_output=True, text=True, check=False
        ).stdout
        lines = [line for line in listening.splitlines() if f"pid={server.pid}," in line]
        assert lines, listening
        assert all("127.0.0.1:" in line for line in lines), lines


def test_a_stale_state_file_from_a_crash_is_ignored(tmp_path: Path, nats_binary: Path) -> None:
    store = tmp_path / "nats"
    store.mkdir()
    (store / "server.json").write_text(json.dumps({"pid": 999_999_999, "port": 1}))
    with EmbeddedNats(tmp_path, binary=nats_binary) as server:
        assert server.owner
        assert json.loads(server.state_file.read_text())["pid"] == server.pid


def test_a_second_process_joins_the_running_server_and_leaves_it_running(
    tmp_path: Path, nats_binary: Path
) -> None:
    with EmbeddedNats(tmp_path, binary=nats_binary) as owner:
        joiner = EmbeddedNats(tmp_path, binary=nats_binary).start()
        assert not joiner.owner
        assert joiner.port == owner.port
        joiner.stop()
        assert owner.pid is not None
        assert Path(f"/proc/{owner.pid}").exists()


def test_the_server_dies_with_a_killed_parent(tmp_path: Path, nats_binary: Path) -> None:
    """kill -9 of forwardflow must not leave an orphaned nats-server behind."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from forwardflow.broker.embedded import EmbeddedNats
        server = EmbeddedNats(Path({str(tmp_path)!r}), binary=Path({str(nats_binary)!r})).start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert _gone(child_pid), f"nats-server {child_pid} outlived its parent"


def test_a_missing_binary_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedNatsError, match="not executable"):
        EmbeddedNats(tmp_path, binary=tmp_path / "no-such-nats-server").start()


async def test_connect_broker_declares_streams_and_stops_what_it_started(
    tmp_path: Path, nats_binary: Path
) -> None:
    settings = load_settings(data_dir=tmp_path)
    async with connect_broker(settings) as connection:
        assert connection.embedded is not None
        pid = connection.embedded.pid
        assert set(connection.streams) == {
            "FF_NOTICES",
            "FF_LEDGER",
            "FF_COMMANDS",
            "FF_EVENTS",
            "FF_DLQ",
        }
    assert pid is not None
    assert _gone(pid)
