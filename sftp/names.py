"""Remote file names from templates, refusing anything that could leave the target folder."""

from __future__ import annotations

import re

__all__ = ["PARTIAL_SUFFIX", "UnsafeNameError", "partial_name", "render_name", "safe_name"]

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


PARTIAL_SUFFIX = ".part"
"""What a file is called while it is written: renamed to its real name only when complete."""


def partial_name(name: str) -> str:
    """The name a file is written under before the atomic rename to ``name``."""
    return f"{name}{PARTIAL_SUFFIX}"


class UnsafeNameError(ValueError):
    """A configured or received name would escape its folder (or is not a plain name)."""


def safe_name(name: str) -> str:
    """``name`` itself when it is one plain file name; else UnsafeNameError."""
    if not _SAFE.fullmatch(name) or name in (".", "..") or ".." in name:
        raise UnsafeNameError(
            f"{name!r} is not a plain file name (letters, digits, . _ -; no paths, no '..')"
        )
    return name


def render_name(template: str, **values: str) -> str:
    """Fill ``{portfolio_id}``-style fields, then check the result is one plain name."""
    try:
        name = template.format(**values)
    except (KeyError, IndexError, ValueError) as error:
        raise UnsafeNameError(f"template {template!r} cannot be filled: {error}") from None
    return safe_name(name)
