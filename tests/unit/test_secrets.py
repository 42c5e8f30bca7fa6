"""Secrets at rest: sealed with the installation key, bound to their company."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from forwardflow.secrets import SecretBox, SecretUnreadableError, secret_box
from forwardflow.settings import load_settings


def test_a_sealed_token_opens_only_with_the_key_and_its_context() -> None:
    box = SecretBox(os.urandom(32))
    sealed = box.seal(b"refresh-token-value", "quickbooks:1")
    assert b"refresh-token-value" not in sealed
    assert box.open(sealed, "quickbooks:1") == b"refresh-token-value"
    with pytest.raises(SecretUnreadableError):
        SecretBox(os.urandom(32)).open(sealed, "quickbooks:1")  # another key
    with pytest.raises(SecretUnreadableError):
        box.open(sealed, "quickbooks:2")  # another company's slot
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretUnreadableError):
        box.open(tampered, "quickbooks:1")


def test_the_configured_key_is_used_else_one_is_generated_once(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    configured = secret_box(load_settings(data_dir=tmp_path, secret_key=SecretStr(key)))
    sealed = configured.seal(b"x", "c")
    assert SecretBox(base64.b64decode(key)).open(sealed, "c") == b"x"
    generated = secret_box(load_settings(data_dir=tmp_path))
    again = secret_box(load_settings(data_dir=tmp_path))
    assert again.open(generated.seal(b"y", "c"), "c") == b"y"
    key_file = tmp_path / "keys" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
