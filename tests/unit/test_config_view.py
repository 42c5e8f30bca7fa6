"""What `config show` prints: secrets masked, each value's source named."""

from __future__ import annotations

from pathlib import Path

import pytest

from forwardflow.config_view import MASK, mask_url, setting_rows
from forwardflow.settings import load_settings


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://ff:s3cret@db:5432/ff", "postgresql+psycopg://ff:***@db:5432/ff"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("nats://user:s3cret@n1:4222,nats://n2:4222", f"nats://user:{MASK}@n1:4222,nats://n2:4222"),
        ("nats://n1:4222", "nats://n1:4222"),
    ],
)
def test_passwords_in_urls_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "s3cret" not in mask_url(url)


def test_rows_mask_secrets_and_name_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "forwardflow.toml").write_text('[http]\nport = 9000\n[log]\nformat = "json"\n')
    monkeypatch.setenv("FORWARDFLOW_HTTP__PORT", "9100")
    monkeypatch.setenv("FORWARDFLOW_QUICKBOOKS__VERIFIER_TOKEN", "verifier-s3cret")
    rows = {row.name: row for row in setting_rows(load_settings())}
    assert (rows["http.port"].value, rows["http.port"].source) == ("9100", "env")
    assert (rows["log.format"].value, rows["log.format"].source) == ("json", "file")
    assert (rows["log.level"].value, rows["log.level"].source) == ("INFO", "default")
    assert rows["quickbooks.verifier_token"].value == MASK
    assert all("s3cret" not in row.value for row in rows.values())
