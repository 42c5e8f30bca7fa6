"""Change notices from any platform's webhook, turned into ledger changes on the broker."""

from __future__ import annotations

import asyncio

from connectors.platform import PlatformError, TransientPlatformError
from debtsale.errors import DomainError
from forwardflow.companies import refused
from forwardflow.wired import WiredPlatform

__all__ = ["fetch_notice"]


async def fetch_notice(wired: WiredPlatform, body: bytes) -> str:
    """Re-read what a notice names and publish its ledger changes; the notice's event id.

    A malformed notice is a DomainError (dead-lettered at once); a platform that refuses
    is one too, with its reason; a throttled or unavailable one is retried.
    """
    try:
        return await asyncio.to_thread(wired.platform.fetch_notice, wired, body)
    except TransientPlatformError:
        raise  # not a DomainError: the subscriber retries it with backoff
    except PlatformError as error:
        raise refused(wired, error) from None
    except ValueError as error:  # pydantic's ValidationError is one
        raise DomainError("notice.shape", f"not a change notice: {error}") from None
