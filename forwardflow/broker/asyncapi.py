"""The message contract as AsyncAPI, generated from the subscribers the service runs.

``docs/asyncapi.yaml`` is this output, committed; ``forwardflow asyncapi --check`` (run
by ``make lint`` and so by CI) fails when the file no longer matches the code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from faststream.specification import AsyncAPI

from forwardflow import __version__
from forwardflow.bootstrap import bootstrap
from forwardflow.broker.subscribers import build_broker
from forwardflow.settings import load_settings

__all__ = ["asyncapi_yaml"]


def asyncapi_yaml() -> str:
    """The AsyncAPI 3.0 document of every forwardflow subscriber, with default settings."""
    with tempfile.TemporaryDirectory(prefix="ff-asyncapi-") as folder:
        app = bootstrap(load_settings(data_dir=Path(folder)))
        try:
            broker = build_broker(app, ["nats://localhost:4222"], handlers=True, delivery=True)
            spec = AsyncAPI(
                broker,
                title="forwardflow",
                version=__version__,
                description=(
                    "Ledger changes, portfolio commands, platform change notices and domain "
                    "events on NATS JetStream. Every message carries a deterministic event_id "
                    "(header and body); Nats-Msg-Id deduplicates on the broker."
                ),
            )
            # FastStream lists channels in registration order, which is not stable from one
            # process to the next; sorted keys make the committed document comparable
            document = spec.to_specification().to_jsonable()
            return str(yaml.safe_dump(document, sort_keys=True, allow_unicode=True))
        finally:
            app.close()
