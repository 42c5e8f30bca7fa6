"""The console's own rows: users (argon2 hashes), sessions (token hashes) and the audit trail."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from debtsale.errors import DomainError
from forwardflow.store.tables import console_audit, console_sessions, console_users

__all__ = [
    "AuditEntry",
    "Role",
    "Session",
    "add_user",
    "audit_page",
    "check_password",
    "end_session",
    "record_audit",
    "session_of",
    "start_session",
]

SESSION_HOURS = 8
_HASHER = PasswordHasher()
_DUMMY_HASH: list[str] = []  # a hash to verify against for unknown emails (same timing)


class Role(StrEnum):
    """What a console user may do: read; cut, close, decide, remit; watch dead letters."""

    CONTROLLER = "controller"
    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user: who, their role and the session's CSRF token."""

    email: str
    role: Role
    csrf: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail."""

    at: datetime
    actor: str
    action: str
    target: str
    command_id: str | None
    outcome: str
    detail: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(engine: Engine, email: str, role: Role, password: str) -> None:
    """Store a user, or replace the role and password of an existing one."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise DomainError("user.email", f"{email!r} is not an email address")
    if len(password) < 8:
        raise DomainError("user.password", "a password has at least 8 characters")
    hashed = _HASHER.hash(password)
    with engine.begin() as connection:
        connection.execute(delete(console_users).where(console_users.c.email == email))
        connection.execute(
            insert(console_users).values(email=email, role=role.value, password_hash=hashed)
        )


def check_password(engine: Engine, email: str, password: str) -> Role | None:
    """The user's role when the password is theirs, else None (same work either way)."""
    email = email.strip().lower()
    with engine.connect() as connection:
        row = connection.execute(
            select(console_users.c.role, console_users.c.password_hash).where(
                console_users.c.email == email
            )
        ).first()
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_HASHER.hash(secrets.token_hex(8)))
    stored = row.password_hash if row is not None else _DUMMY_HASH[0]
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return Role(row.role) if row is not None else None


def start_session(engine: Engine, email: str) -> tuple[str, str]:
    """A new session for ``email``: (the cookie's token, the CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
        connection.execute(
            insert(console_sessions).values(
                token_hash=_digest(token),
                email=email.strip().lower(),
                csrf=csrf,
                created_at=now,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
    return token, csrf


def session_of(engine: Engine, token: str) -> Session | None:
    """The live session the cookie's token opens, if any."""
    with engine.connect() as connection:
        row = connection.execute(
            select(
                console_sessions.c.csrf,
                console_sessions.c.expires_at,
                console_users.c.email,
                console_users.c.role,
            )
            .join(console_users, console_users.c.email == console_sessions.c.email)
            .where(console_sessions.c.token_hash == _digest(token))
        ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        return None
    return Session(row.email, Role(row.role), row.csrf)


def end_session(engine: Engine, token: str) -> None:
    """Sign out: the token opens nothing any more."""
    with engine.begin() as connection:
        connection.execute(
            delete(console_sessions).where(console_sessions.c.token_hash == _digest(token))
        )


def record_audit(
    engine: Engine,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    *,
    command_id: str | None = None,
    detail: str = "",
) -> bool:
    """Append to the audit trail; a command id already there is not written twice."""
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(console_audit).values(
                    at=datetime.now(UTC),
                    actor=actor,
                    action=action,
                    target=target[:200],
                    command_id=command_id,
                    outcome=outcome,
                    detail=detail[:2000],
                )
            )
    except IntegrityError:
        return False
    return True


def audit_page(engine: Engine, offset: int, limit: int) -> tuple[list[AuditEntry], int]:
    """The newest audit lines first, one page of them, and how many there are."""
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(console_audit)).scalar_one()
        rows = connection.execute(
            select(console_audit).order_by(console_audit.c.id.desc()).offset(offset).limit(limit)
        ).all()
    return [
        AuditEntry(r.at, r.actor, r.action, r.target, r.command_id, r.outcome, r.detail)
        for r in rows
    ], int(count)
