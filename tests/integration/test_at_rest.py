"""What lies on disk: a private data directory and database, sealed secret keys."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from debtsale.agreement import DeliveryTerms
from forwardflow.bootstrap import bootstrap
from forwardflow.delivery import buyer_keys
from forwardflow.keystore import SEALED_MAGIC, KeyUnreadableError, sealed_key
from forwardflow.settings import load_settings
from forwardflow.store import upgrade
from sftp.keys import ensure_ssh_key, public_line
from sftp.openpgp import ensure_seller_key, seller_fingerprint

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _terms() -> DeliveryTerms:
    return DeliveryTerms(
        host="127.0.0.1",
        username="acme",
        host_key="SHA256:" + "A" * 43,
        buyer_certificate="acme.asc",
    )


def test_the_data_directory_and_the_sqlite_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an earlier version left it
    (data / "forwardflow.db").touch()
    (data / "forwardflow.db").chmod(0o644)
    app = bootstrap(load_settings(data_dir=data))
    upgrade(app.engine)
    with app.unit_of_work() as uow:  # a write: the WAL and shared-memory files exist now
        uow.connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        uow.commit()
    assert _mode(data) == 0o700
    for name in ("forwardflow.db", "forwardflow.db-wal", "forwardflow.db-shm"):
        assert _mode(data / name) == 0o600, name
    app.close()

    fresh = tmp_path / "fresh"
    app = bootstrap(load_settings(data_dir=fresh))
    upgrade(app.engine)
    assert _mode(fresh) == 0o700
    assert _mode(fresh / "forwardflow.db") == 0o600
    app.close()


def test_the_seller_and_ssh_keys_are_sealed_with_the_secret_key(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, secret_key=SecretStr(KEY))
    app = bootstrap(settings)
    keys = buyer_keys(app, _terms())
    for path in (keys.seller_key_file, keys.ssh_key_file):
        data = path.read_bytes()
        assert data.startswith(SEALED_MAGIC)
        assert b"PRIVATE" not in data
        assert _mode(path) == 0o600
    assert seller_fingerprint(keys.seller_secret) == keys.seller_fingerprint
    assert keys.ssh_public.startswith("ssh-ed25519 ")
    again = buyer_keys(app, _terms())  # the same keys next time
    assert again.seller_fingerprint == keys.seller_fingerprint
    assert again.ssh_public == keys.ssh_public
    app.close()

    stranger = bootstrap(load_settings(data_dir=tmp_path, secret_key=SecretStr(OTHER_KEY)))
    with pytest.raises(KeyUnreadableError, match="does not open"):
        buyer_keys(stranger, _terms())
    stranger.close()


def test_plain_keys_of_an_earlier_version_are_sealed_in_place_and_keep_working(
    tmp_path: Path,
) -> None:
    keys_dir = tmp_path / "keys"
    fingerprint = ensure_seller_key(keys_dir / "seller.pgp", "Seller <s@x.test>")
    public = ensure_ssh_key(keys_dir / "ssh_ed25519")
    app = bootstrap(load_settings(data_dir=tmp_path, secret_key=SecretStr(KEY)))
    keys = buyer_keys(app, _terms())
    assert keys.seller_fingerprint == fingerprint
    assert keys.ssh_public.split()[:2] == public.split()[:2]
    assert (keys_dir / "seller.pgp").read_bytes().startswith(SEALED_MAGIC)
    assert (keys_dir / "ssh_ed25519").read_bytes().startswith(SEALED_MAGIC)
    unsealed = sealed_key(app.settings, keys_dir / "ssh_ed25519", "ssh")
    assert public_line(unsealed).split()[:2] == public.split()[:2]
    app.close()
