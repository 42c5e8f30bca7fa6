"""Settings: documented defaults, env over file over defaults, clear errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from forwardflow.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_defaults_put_sqlite_in_the_data_dir_and_embed_the_broker() -> None:
    settings = load_settings()
    assert settings.data_dir == Path(".forwardflow")
    assert settings.database_url == f"sqlite:///{Path('.forwardflow').resolve()}/forwardflow.db"
    assert settings.embedded_broker
    assert settings.http.port == 8080


def test_file_overrides_defaults(tmp_path: Path) -> None:
    (tmp_path / "forwardflow.toml").write_text('[http]\nport = 9000\n[log]\nlevel = "DEBUG"\n')
    settings = load_settings()
    assert settings.http.port == 9000
    assert settings.log.level == "DEBUG"


def test_env_overrides_file_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "forwardflow.toml").write_text('[http]\nport = 9000\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("FORWARDFLOW_HTTP__PORT", "9100")
    settings = load_settings()
    assert settings.http.port == 9100  # env beats file
    assert settings.http.host == "0.0.0.0"  # file beats default
    assert settings.log.level == "INFO"  # default


def test_explicit_config_file_and_env_pointer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('data_dir = "/srv/ff"\n')
    assert load_settings(config).data_dir == Path("/srv/ff")
    monkeypatch.setenv("FORWARDFLOW_CONFIG", str(config))
    assert load_settings().data_dir == Path("/srv/ff")


def test_broker_url_switches_off_the_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDFLOW_BROKER__URL", "nats://a:4222,nats://b:4222")
    assert not load_settings().embedded_broker


def test_invalid_env_value_names_the_setting_and_the_expected_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDFLOW_HTTP__PORT", "eighty")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "http.port" in message
    assert "FORWARDFLOW_HTTP__PORT" in message
    assert "integer" in message


def test_invalid_file_value_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "forwardflow.toml").write_text('[broker]\nurl = "http://nats"\n')
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "broker.url" in str(error.value)
    assert "nats://HOST:PORT" in str(error.value)
    assert "forwardflow.toml" in str(error.value)


def test_unknown_setting_is_an_error_not_a_silent_typo(tmp_path: Path) -> None:
    (tmp_path / "forwardflow.toml").write_text("[htp]\nport = 1\n")
    with pytest.raises(SettingsError, match=r"htp .*unknown setting"):
        load_settings()


def test_malformed_toml_is_a_settings_error(tmp_path: Path) -> None:
    (tmp_path / "forwardflow.toml").write_text("[http\n")
    with pytest.raises(SettingsError, match="cannot read config file"):
        load_settings()


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_an_invalid_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDFLOW_SECRET_KEY", "hunter2-is-not-base64-of-32-bytes")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "secret_key" in str(error.value)
    assert "32 random bytes in base64" in str(error.value)
    assert "hunter2" not in str(error.value)


def test_a_valid_secret_key_is_accepted_and_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    monkeypatch.setenv("FORWARDFLOW_SECRET_KEY", key)
    settings = load_settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == key
    assert key not in repr(settings)


def test_database_url_must_be_sqlite_or_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDFLOW_DATABASE__URL", "mysql://x")
    with pytest.raises(SettingsError, match=r"database\.url"):
        load_settings()


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.http.port = 1  # type: ignore[misc]


def test_an_unknown_environment_variable_stops_start_up_naming_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDFLOW_HTP__PORT", "1")
    monkeypatch.setenv("FORWARDFLOW_DATADIR", "/x")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "FORWARDFLOW_HTP__PORT" in message
    assert "did you mean FORWARDFLOW_HTTP__PORT?" in message
    assert "FORWARDFLOW_DATADIR" in message
    assert "did you mean FORWARDFLOW_DATA_DIR?" in message


def test_known_variables_mapping_keys_and_the_test_suites_own_are_not_typos(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDFLOW_HTTP__PORT", "9100")
    monkeypatch.setenv("forwardflow_log__level", "DEBUG")  # names are case-insensitive
    monkeypatch.setenv("FORWARDFLOW_QUICKBOOKS__ACCOUNTS__CASH", "36")
    monkeypatch.setenv("FORWARDFLOW_TEST_NATS_URL", "nats://127.0.0.1:4222")
    settings = load_settings()
    assert settings.http.port == 9100
    assert settings.quickbooks.accounts["cash"] == "36"


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    (tmp_path / "forwardflow.toml").write_bytes(b"\xef\xbb\xbf[http]\nport = 9001\n")
    assert load_settings().http.port == 9001
