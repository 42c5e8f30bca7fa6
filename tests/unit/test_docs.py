"""The README's configuration reference and the example file stay true to the settings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel

from forwardflow.settings import settings_model

ROOT = Path(__file__).resolve().parents[2]


def _dotted(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _dotted(annotation, f"{prefix}{name}.")
        else:
            names.append(f"{prefix}{name}")
    return names


def test_every_setting_is_in_the_readme_reference() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in _dotted(settings_model()) if f"| `{name}` |" not in readme]
    assert missing == []


def test_the_readme_shows_exactly_the_two_quick_start_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_the_example_configuration_is_valid() -> None:
    values = tomllib.loads((ROOT / "deploy" / "forwardflow.example.toml").read_text())
    settings_model()(**values)
