"""A missing service skips a test on a developer's machine and fails it under CI=true."""

from __future__ import annotations

import pytest

from testkit import ServiceUnavailableError, in_ci, require


def _absent() -> str:
    raise ServiceUnavailableError("PostgreSQL not reachable at 127.0.0.1:1")


def test_missing_service_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not reachable"):
        require(_absent)


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="required service missing under CI=true"):
        require(_absent)


def test_a_present_service_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert require(lambda: "postgresql://here") == "postgresql://here"
