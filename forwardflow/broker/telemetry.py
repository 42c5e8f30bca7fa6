"""FastStream's message metrics (received, processed by status, durations), in our registry."""

from __future__ import annotations

from typing import Any

from faststream.nats.prometheus import NatsPrometheusMiddleware
from prometheus_client import CollectorRegistry

__all__ = ["message_metrics"]


def message_metrics(registry: CollectorRegistry) -> Any:
    """A broker middleware counting every message into ``registry``."""
    return NatsPrometheusMiddleware(registry=registry, app_name="forwardflow")
