"""Tables of webhooks: subscriptions, the durable delivery queue, and the log of every delivery attempt.

Migration 0020 creates them. A delivery row is written in the transaction of the change it reports
(events/outbox.py), so the queue holds exactly the committed changes; the worker (events/worker.py)
claims rows with a lease and appends one attempt row per HTTP request it makes.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scope_kind", sa.String(16), nullable=False),  # repository, namespace or registry
    sa.Column("scope", sa.String(255), nullable=False),  # a repository or namespace name; "*" for the registry
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # event types, e.g. ["manifest.push", "tag.move"]
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("secret_encrypted", sa.Text, nullable=False),  # the signing secret, sealed (auth/secret_box.py)
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_webhook_subscriptions_scope", "scope"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", sa.String(64), nullable=False),  # the same for every subscription and redelivery
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("repository", sa.String(255), nullable=True),  # the ordering key; None (a ping) orders nothing
    sa.Column("body", sa.Text, nullable=False),  # the JSON sent, fixed when the event happened
    sa.Column("state", sa.String(16), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_holder", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("redelivery_of", _ID, nullable=True),
    sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_queue", "subscription_id", "repository", "state", "id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id", _ID, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
)
