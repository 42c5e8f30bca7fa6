"""The state store: engine, schema, migrations and the unit of work."""

from forwardflow.store.engine import make_engine, reading
from forwardflow.store.migrate import current_revision, head_revision, upgrade
from forwardflow.store.uow import SqlUnitOfWork

__all__ = [
    "SqlUnitOfWork",
    "current_revision",
    "head_revision",
    "make_engine",
    "reading",
    "upgrade",
]
