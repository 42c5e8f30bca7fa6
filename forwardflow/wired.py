"""A platform wired in: its settings section, its stores and publishing, as the seam asks.

``WiredPlatform`` implements ``connectors.platform.PlatformContext`` for one platform
over forwardflow's store (tokens sealed with the installation's key, bound to the
platform and company), and, when the broker is connected, its ``Bus``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.platform import (
    AuthorizationError,
    Checkpoints,
    PaymentLinks,
    Platform,
    PlatformContext,
    Publish,
    Tokens,
    TokenStore,
)
from debtsale.changes import LedgerChange
from forwardflow.broker.bus import Bus
from forwardflow.secrets import SecretBox

if TYPE_CHECKING:
    from forwardflow.bootstrap import Forwardflow

__all__ = ["SealedTokens", "WiredPlatform"]


def seal(box: SecretBox, platform: str, company_id: str, tokens: Tokens) -> bytes:
    """Tokens sealed for one company of one platform (another row cannot open them)."""
    data = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "access_expires_at": tokens.access_expires_at.isoformat(),
        "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
    }
    return box.seal(json.dumps(data).encode(), f"{platform}:{company_id}")


def unseal(box: SecretBox, platform: str, company_id: str, sealed: bytes) -> Tokens:
    """The tokens a row holds."""
    data = json.loads(box.open(sealed, f"{platform}:{company_id}"))
    return Tokens(
        data["access_token"],
        data["refresh_token"],
        datetime.fromisoformat(data["access_expires_at"]),
        datetime.fromisoformat(data["refresh_expires_at"]),
    )


class SealedTokens:
    """One platform's companies' tokens, sealed at rest; a refresh never beats a reconnect."""

    def __init__(self, app: Forwardflow, platform: Platform) -> None:
        self._app = app
        self._platform = platform
        self._box = app.secret_box()

    def load(self, company_id: str) -> Tokens:
        """The company's current tokens; not connected is an AuthorizationError."""
        with self._app.unit_of_work() as uow:
            sealed = uow.companies.sealed(self._platform.name, company_id)
        if sealed is None:
            raise AuthorizationError(
                f"{self._platform.title} company {company_id} is not connected"
            )
        return unseal(self._box, self._platform.name, company_id, sealed)

    def save(self, company_id: str, tokens: Tokens, replacing: Tokens | None = None) -> bool:
        """Persist rotated tokens (one transaction: atomic); True when written.

        With ``replacing`` (a refresh), the row is written only if it still holds those
        tokens: a company reconnected while the refresh was in flight keeps its newer
        grant. SQLite's transactions take the write lock first; PostgreSQL locks the row.
        """
        name = self._platform.name
        with self._app.unit_of_work() as uow:
            if replacing is not None:
                sealed = uow.companies.sealed(name, company_id, lock=True)
                held = unseal(self._box, name, company_id, sealed) if sealed else None
                if held is None or held.refresh_token != replacing.refresh_token:
                    return False
            uow.companies.put_tokens(
                name,
                company_id,
                seal(self._box, name, company_id, tokens),
                tokens.access_expires_at,
                tokens.refresh_expires_at,
            )
            uow.commit()
        return True

    def rotate(
        self, company_id: str, stale_access_token: str, refresh: Callable[[Tokens], Tokens]
    ) -> None:
        """Refresh under the company's row lock (PostgreSQL: held across the call, so one
        process refreshes and the others find its tokens). SQLite serves one process per
        file and would lock every writer for the call: there the caller's own lock rules
        and the write is conditional, as a ``save`` with ``replacing``."""
        name = self._platform.name
        if self._app.engine.dialect.name == "sqlite":
            held = self.load(company_id)
            if held.access_token == stale_access_token:
                self.save(company_id, refresh(held), replacing=held)
            return
        with self._app.unit_of_work() as uow:
            sealed = uow.companies.sealed(name, company_id, lock=True)
            if sealed is None:
                raise AuthorizationError(
                    f"{self._platform.title} company {company_id} is not connected"
                )
            held = unseal(self._box, name, company_id, sealed)
            if held.access_token != stale_access_token:
                return  # refreshed meanwhile, here or in another process
            fresh = refresh(held)
            uow.companies.put_tokens(
                name,
                company_id,
                seal(self._box, name, company_id, fresh),
                fresh.access_expires_at,
                fresh.refresh_expires_at,
            )
            uow.commit()


class _Checkpoints:
    def __init__(self, app: Forwardflow, platform: str) -> None:
        self._app, self._platform = app, platform

    def get(self, company_id: str, entity: str) -> datetime | None:
        with self._app.unit_of_work() as uow:
            return uow.checkpoints.get(self._platform, company_id, entity)

    def set(self, company_id: str, entity: str, since: datetime) -> None:
        with self._app.unit_of_work() as uow:
            uow.checkpoints.set(self._platform, company_id, entity, since)
            uow.commit()


class _PaymentLinks:
    def __init__(self, app: Forwardflow, platform: str) -> None:
        self._app, self._platform = app, platform

    def invoices(self, company_id: str, payment_id: str) -> set[str]:
        with self._app.unit_of_work() as uow:
            return uow.payment_links.invoices(self._platform, company_id, payment_id)

    def remember(self, company_id: str, payment_id: str, invoice_ids: set[str]) -> None:
        with self._app.unit_of_work() as uow:
            uow.payment_links.remember(self._platform, company_id, payment_id, invoice_ids)
            uow.commit()


class WiredPlatform:
    """One platform with what the seam gives it; ``bus`` is set where a broker runs."""

    def __init__(self, platform: Platform, app: Forwardflow, bus: Bus | None = None) -> None:
        self.platform = platform
        self.app = app
        self.bus = bus

    @property
    def name(self) -> str:
        """The platform's name."""
        return self.platform.name

    @property
    def settings(self) -> Any:
        """The platform's settings section."""
        return self.app.settings.platform(self.platform.name)

    @property
    def tokens(self) -> TokenStore:
        """Its companies' tokens, sealed at rest."""
        return SealedTokens(self.app, self.platform)

    @property
    def checkpoints(self) -> Checkpoints:
        """Its catch-up checkpoints."""
        return _Checkpoints(self.app, self.platform.name)

    @property
    def payment_links(self) -> PaymentLinks:
        """Which invoices its payments paid."""
        return _PaymentLinks(self.app, self.platform.name)

    def _bus(self) -> Bus:
        if self.bus is None:
            raise RuntimeError(f"{self.platform.name}: publishing needs a connected broker")
        return self.bus

    def publisher(self, company_id: str) -> Publish:
        """A blocking publish of the company's ledger changes."""
        return self._bus().blocking_publisher(self.platform.tenant_of(company_id))

    async def publish_changes(self, company_id: str, changes: Sequence[LedgerChange]) -> None:
        """Publish the company's ledger changes."""
        await self._bus().publish_changes(self.platform.tenant_of(company_id), changes)

    async def publish_notices(self, notices: Sequence[tuple[str, str, bytes]]) -> None:
        """Webhook notices to the NOTICES stream."""
        await self._bus().publish_notices(self.platform.name, notices)

    async def connected(self, company_ids: set[str]) -> set[str]:
        """Which of these companies are connected."""
        return await asyncio.to_thread(self._connected, company_ids)

    def _connected(self, company_ids: set[str]) -> set[str]:
        with self.app.unit_of_work() as uow:
            return uow.companies.connected_among(self.platform.name, company_ids)

    def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """Call a platform step with this context (for threads: ``to_thread(wired.run, …)``)."""
        return work(self, *args)


def _conforms(wired: WiredPlatform) -> None:  # pragma: no cover - checked by mypy, never run
    _: PlatformContext = wired
