"""The effective settings as rows for people: dotted name, value with secrets masked, source."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from forwardflow.settings import CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE, Settings, read_config_file

__all__ = ["SettingRow", "mask_url", "setting_rows"]

MASK = "********"


@dataclass(frozen=True, slots=True)
class SettingRow:
    """One setting as shown by ``forwardflow config show``."""

    name: str
    value: str
    source: str  # "env", "file" or "default"


def mask_url(url: str) -> str:
    """A URL with its password replaced by asterisks."""
    try:
        parsed = make_url(url)
    except (ValueError, ArgumentError):  # a nats:// cluster list; mask by hand
        scheme, sep, rest = url.partition("://")
        credentials, at, host = rest.rpartition("@")
        if not at or ":" not in credentials:
            return url
        return f"{scheme}{sep}{credentials.split(':', 1)[0]}:{MASK}@{host}"
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def _file_values() -> dict[str, Any]:
    path = Path(os.environ.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE)
    try:
        return read_config_file(path)
    except OSError:
        return {}


def _in_file(values: dict[str, Any], parts: list[str]) -> bool:
    node: Any = values
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _shown(name: str, value: Any) -> str:
    if isinstance(value, SecretStr):
        return MASK
    if value is None:
        return "(unset)"
    if name.endswith("url") and isinstance(value, str):
        return mask_url(value)
    return str(value)


def setting_rows(settings: Settings) -> list[SettingRow]:
    """Every setting in force, nested ones flattened to dotted names."""
    file_values = _file_values()
    environ = {key.upper() for key in os.environ}
    rows: list[SettingRow] = []

    def walk(model: BaseModel, parts: list[str]) -> None:
        for field_name in type(model).model_fields:
            value = getattr(model, field_name)
            path = [*parts, field_name]
            if isinstance(value, BaseModel):
                walk(value, path)
                continue
            env_name = "FORWARDFLOW_" + "__".join(p.upper() for p in path)
            if env_name in environ:
                source = "env"
            elif _in_file(file_values, path):
                source = "file"
            else:
                source = "default"
            name = ".".join(path)
            rows.append(SettingRow(name, _shown(name, value), source))

    walk(settings, [])
    rows.append(SettingRow("database_url (effective)", mask_url(settings.database_url), "derived"))
    return rows
