"""A loud refusal to run production on sample settings (the shipped chart of accounts …).

Running on PostgreSQL against a platform's production service means real books: a
setting still at its shipped sample (say, QuickBooks account ids) would post journal
entries to the wrong accounts. Each platform names its sample settings
(``PlatformSettings.sample_fields``); the service checks them at start, and refuses the
deploy files' ``REPLACE_ME`` placeholders the same way.
"""

from __future__ import annotations

from connectors.platform import PlatformSettings
from forwardflow.settings import Settings

__all__ = ["PLACEHOLDER", "SampleSettingsError", "sample_settings_problems"]

PLACEHOLDER = "REPLACE_ME"
"""What the deploy files put where the site's own value goes (refused like a sample)."""


class SampleSettingsError(RuntimeError):
    """Production settings still at their shipped samples; the message names each one."""


def sample_settings_problems(settings: Settings, platforms: list[str]) -> list[str]:
    """``section.field (env NAME)`` for every sample setting left as shipped in production."""
    if not settings.database_url.startswith("postgresql"):
        return []
    problems = []
    for name in platforms:
        section = settings.platform(name)
        if not isinstance(section, PlatformSettings) or not section.in_production():
            continue
        for field in type(section).sample_fields:
            value = getattr(section, field)
            env = f"FORWARDFLOW_{name.upper()}__{field.upper()}"
            if value == type(section).model_fields[field].default:
                problems.append(f"{name}.{field} (env {env}) is still the shipped sample")
            elif PLACEHOLDER in str(value):
                problems.append(f"{name}.{field} (env {env}) still holds {PLACEHOLDER}")
    return problems
