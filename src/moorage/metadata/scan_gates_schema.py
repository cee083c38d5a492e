"""The table of scan gate policies (issue 13, "Gates"); migration 0017 creates it."""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import metadata

scan_gate_policies = sa.Table(
    "scan_gate_policies",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),  # "repository" or "namespace"
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("policy", sa.JSON, nullable=False),  # GatePolicy.to_document()
    sa.Column("updated_by", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
