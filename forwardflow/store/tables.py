"""The relational schema; Alembic migrations must produce exactly this (a test checks)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

__all__ = [
    "agreements",
    "buyer_notices",
    "connect_links",
    "console_audit",
    "console_sessions",
    "console_users",
    "deliveries",
    "health_marks",
    "inbound_files",
    "inbox",
    "ledger_entities",
    "metadata",
    "outbox",
    "platform_checkpoints",
    "platform_companies",
    "platform_payment_links",
    "platform_postings",
    "portfolio_members",
    "portfolios",
    "putback_rejections",
    "receivable_claims",
    "receivable_flags",
    "sale_file_chunks",
    "sale_files",
    "store_probes",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id"),
    comment="Events a consumer has applied: a second delivery of one is a no-op.",
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False, unique=True),
    Column("subject", String(500), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Index(None, "published_at", "id"),
    comment="Events written with the state that caused them, published after commit in id order.",
)

ledger_entities = Table(
    "ledger_entities",
    metadata,
    Column("tenant", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("entity_id", String(200), nullable=False),
    Column("version_micros", BigInteger, nullable=False),
    Column("version_sequence", BigInteger, nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("message", JSON, nullable=False),
    Column("invoices", Text, nullable=False, server_default="[]"),
    Column("prior_invoices", Text, nullable=False, server_default="[]"),
    PrimaryKeyConstraint("tenant", "kind", "entity_id"),
    comment="The newest known change of each ledger entity (invoice, payment, credit, "
    "customer, merge), kept whole; newer versions replace it, older ones never do. "
    "invoices: what it names (JSON list); prior_invoices: what the version it replaced named.",
)

agreements = Table(
    "agreements",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("document", Text, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    comment="Sale agreements as the TOML they were added from; saved only over the version "
    "they were read at.",
)

portfolios = Table(
    "portfolios",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(100), nullable=False),
    Column("agreement_id", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("document", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    Index(None, "tenant", "status"),
    comment="Each portfolio as a JSON document (lines, adjustments, put-backs, remittances); "
    "saved only over the version it was read at.",
)

portfolio_members = Table(
    "portfolio_members",
    metadata,
    Column("portfolio_id", String(64), nullable=False),
    Column("receivable_id", String(200), nullable=False),
    Column("tenant", String(100), nullable=False),
    PrimaryKeyConstraint("portfolio_id", "receivable_id"),
    Index(None, "tenant", "receivable_id"),
    comment="Every receivable each portfolio ever had a line for: which portfolios a ledger "
    "change concerns.",
)

receivable_claims = Table(
    "receivable_claims",
    metadata,
    Column("tenant", String(100), nullable=False),
    Column("receivable_id", String(200), nullable=False),
    Column("portfolio_id", String(64), nullable=False),
    PrimaryKeyConstraint("tenant", "receivable_id"),
    Index(None, "portfolio_id"),
    comment="The one portfolio holding each receivable (live or sold): a receivable is sold "
    "once. Released when it is removed, put back or replaced.",
)

receivable_flags = Table(
    "receivable_flags",
    metadata,
    Column("tenant", String(100), nullable=False),
    Column("receivable_id", String(200), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("since", Date, nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant", "receivable_id", "reason"),
    comment="Exclusion facts the firm recorded (bankruptcy, dispute …): such a receivable "
    "is never cut and is removed from a live sale.",
)

sale_files = Table(
    "sale_files",
    metadata,
    Column("portfolio_id", String(64), primary_key=True),
    Column("agreement_id", String(64), nullable=False),
    Column("tenant", String(100), nullable=False),
    Column("summary", JSON, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    comment="Each closed sale's file summary (dates, layout, header, count and totals), "
    "written in the close's commit.",
)

sale_file_chunks = Table(
    "sale_file_chunks",
    metadata,
    Column("portfolio_id", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("face_minor", BigInteger, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("portfolio_id", "position"),
    comment="Each sale file as sold, in chunks of consecutive rows (CSV bytes, row count, "
    "face and price in minor units), in file order: the delivery streams them.",
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("portfolio_id", String(64), primary_key=True),
    Column("agreement_id", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("receipt", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    comment="The last delivery receipt of each portfolio's sale file: remote paths, sizes, "
    "hashes, attempts and times.",
)

platform_companies = Table(
    "platform_companies",
    metadata,
    Column("platform", String(20), nullable=False),
    Column("company_id", String(64), nullable=False),
    Column("tenant", String(100), nullable=False),
    Column("tokens", LargeBinary, nullable=False),
    Column("access_expires_at", DateTime(timezone=True), nullable=False),
    Column("refresh_expires_at", DateTime(timezone=True), nullable=False),
    Column("connected_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("platform", "company_id"),
    comment="Connected companies; their OAuth tokens sealed with the installation's key.",
)

platform_payment_links = Table(
    "platform_payment_links",
    metadata,
    Column("platform", String(20), nullable=False),
    Column("company_id", String(64), nullable=False),
    Column("payment_id", String(64), nullable=False),
    Column("invoice_ids", JSON, nullable=False),
    PrimaryKeyConstraint("platform", "company_id", "payment_id"),
    comment="Which invoices each payment paid when last read (a deleted payment says nothing).",
)

platform_checkpoints = Table(
    "platform_checkpoints",
    metadata,
    Column("platform", String(20), nullable=False),
    Column("company_id", String(64), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("changed_since", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("platform", "company_id", "entity"),
    comment="Change-data-capture progress: everything before changed_since was published.",
)

platform_postings = Table(
    "platform_postings",
    metadata,
    Column("platform", String(20), nullable=False),
    Column("company_id", String(64), nullable=False),
    Column("entry_id", String(255), nullable=False),
    Column("portfolio_id", String(64), nullable=False),
    Column("platform_id", String(64), nullable=True),
    Column("state", String(20), nullable=False),
    Column("problem", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("entry", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("platform", "company_id", "entry_id"),
    CheckConstraint("state IN ('posted', 'applied', 'blocked', 'unapplied')", name="state"),
    Index(None, "platform", "company_id", "portfolio_id"),
    Index(None, "state"),
    comment="Journal entries forwardflow posted to a platform, or could not post yet "
    "(blocked until the company is re-authorised); applied once their invoices are.",
)

connect_links = Table(
    "connect_links",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("company_id", String(64), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=True),
    Column("state_digest", String(64), nullable=True),
    Column("browser_digest", String(64), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("state_digest"),
    comment="Single-use links that start connecting a company, minted by an operator; "
    "the OAuth state and the browser that opened the link are bound to them.",
)

inbound_files = Table(
    "inbound_files",
    metadata,
    Column("agreement_id", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("lines", Integer, nullable=False),
    Column("result", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("agreement_id", "sha256"),
    comment="Buyers' request files by content: the same bytes get the same answer, "
    "whatever name they come under.",
)

putback_rejections = Table(
    "putback_rejections",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("agreement_id", String(64), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("line", Integer, nullable=False),
    Column("portfolio_id", String(64), nullable=False),
    Column("receivable_id", String(200), nullable=False),
    Column("rule", String(60), nullable=False),
    Column("detail", Text, nullable=False),
    Column("rejected_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("agreement_id", "file_sha256", "line"),
    Index(None, "portfolio_id"),
    comment="Request lines from buyers' files that broke a rule, kept out of the "
    "portfolio document so a hostile file cannot bloat it.",
)

store_probes = Table(
    "store_probes",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    comment="Readiness writes here: a store that cannot commit (read-only, disk full) "
    "is not ready.",
)

buyer_notices = Table(
    "buyer_notices",
    metadata,
    Column("agreement_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("agreement_id", "kind", "subject", "digest"),
    CheckConstraint("kind IN ('putback', 'statement')", name="kind"),
    comment="What the buyer was told after the sale: each decided put-back request "
    "(subject: request id) and each remittance statement (subject: portfolio, digest: "
    "what it said), with the file it was sent in.",
)

health_marks = Table(
    "health_marks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("ok_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    Column("problem", Text),
    comment="The last success and failure of each recurring operation (catch-up per "
    "platform company, buyer inbox polls, empty tranches), for readiness and status.",
)

console_users = Table(
    "console_users",
    metadata,
    Column("email", String(254), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("role IN ('controller', 'viewer', 'operator')", name="role"),
    comment="Who may sign in to the console, with an argon2 hash of the password.",
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index(None, "email"),
    comment="Signed-in sessions, by the SHA-256 of the cookie's token (never the token).",
)

console_audit = Table(
    "console_audit",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(254), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target", String(200), nullable=False),
    Column("command_id", String(200), nullable=True),
    Column("outcome", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    UniqueConstraint("command_id"),
    Index(None, "at"),
    comment="Who did what in the console, when, and how it ended; one row per command id.",
)
