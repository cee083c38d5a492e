"""Request and response bodies of the governance endpoints (what the OpenAPI document describes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StrictBool

from moorage.domain.audit_chain import rfc3339
from moorage.domain.references import NAME_PATTERN
from moorage.domain.tag_mutability import FILTER_GRAMMAR, MAX_FILTERS, TagMutability
from moorage.governance.settings import MAX_DESCRIPTION, MAX_LABELS
from moorage.governance.tag_rules import MAX_PATTERN, MAX_PATTERNS, RulesInForce
from moorage.governance.usage import Usage

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]
"""Every time in governance output (audit, tag history, images, repositories): RFC 3339, UTC, microseconds, `Z`."""
Filter = Annotated[str, Field(pattern=FILTER_GRAMMAR.pattern)]
TagPatternText = Annotated[str, Field(min_length=1, max_length=MAX_PATTERN + 5)]


class TagRulesIn(BaseModel):
    """Tag naming rules: `glob:PATTERN` (or a bare glob) or `re:REGEX`, each matching the whole tag."""

    model_config = ConfigDict(extra="forbid")

    allowed: list[TagPatternText] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="A pushed tag must match one of these; empty: every tag not refused is allowed.",
        examples=[["v[0-9]*.[0-9]*.[0-9]*", "re:^sha-[0-9a-f]{7,40}$"]],
    )
    refused: list[TagPatternText] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="A pushed tag matching one of these is refused (refused wins over allowed).",
        examples=[["latest"]],
    )


class TagRulesOut(BaseModel):
    allowed: list[str]
    refused: list[str]


class TagRuleSetOut(TagRulesOut):
    """One rule set in force and where it comes from."""

    source: str = Field(..., description="How refusals name it: `prod/*` (a namespace) or `prod/api` (the repository).")
    scope: Literal["namespace", "repository"]
    name: str

    @classmethod
    def of(cls, layer: RulesInForce) -> TagRuleSetOut:
        return cls(source=layer.source, scope=layer.scope, name=layer.name, **layer.rules.to_document())


class NamespaceTagRulesOut(TagRulesOut):
    namespace: str
    applies_to: str = Field(..., description="The repositories it governs: `NAMESPACE/*`.")
    updated_by: str
    updated_at: Timestamp


class SettingsChange(BaseModel):
    """Repository settings; in an update, fields left out keep their values."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    labels: dict[str, str] | None = Field(None, max_length=MAX_LABELS)
    visibility: Literal["private", "public"] | None = None
    tag_mutability: TagMutability | None = None
    tag_mutability_exclusion_filters: list[Filter] | None = Field(
        None,
        max_length=MAX_FILTERS,
        description="Wildcard filters (`^[0-9a-zA-Z._*-]{1,128}$`) of tags excepted from the mutability rule.",
    )
    scan_on_push: StrictBool | None = Field(None, description="`true` or `false` (JSON booleans only).")
    lifecycle_policy: dict[str, Any] | None = Field(
        None,
        description="The repository's own lifecycle policy: the one `…/lifecycle-policy` sets, checked the same way; "
        "null removes it.",
    )
    tag_rules: TagRulesIn | None = Field(
        None, description="The repository's own tag naming rules (null clears them; its namespaces' rules still apply)."
    )

    def changes(self) -> dict[str, Any]:
        """The fields the client set; an explicit null clears only the lifecycle policy and the tag rules."""
        given = self.model_dump(exclude_unset=True, mode="json")
        return {k: v for k, v in given.items() if v is not None or k in ("lifecycle_policy", "tag_rules")}


class RepositoryCreate(SettingsChange):
    name: str = Field(..., max_length=255, pattern=NAME_PATTERN.pattern, examples=["team-a/api"])


class RepositoryOut(BaseModel):
    name: str
    created_at: Timestamp
    created_by: str | None
    description: str
    labels: dict[str, str]
    visibility: str
    tag_mutability: TagMutability
    tag_mutability_exclusion_filters: list[str]
    scan_on_push: bool
    lifecycle_policy: dict[str, Any] | None = Field(
        ..., description="The lifecycle policy in force: the repository's own, else its nearest namespace's."
    )
    lifecycle_policy_source: Literal["repository", "namespace"] | None = None
    lifecycle_policy_namespace: str | None = Field(None, description="The namespace the policy in force is set on.")
    image_count: int
    tag_count: int
    tag_rules: TagRulesOut | None = Field(None, description="The repository's own tag naming rules.")
    tag_rules_in_force: list[TagRuleSetOut] | None = Field(
        None,
        description="Every rule set a pushed tag must pass, namespaces' first, with its source "
        "(shown when one repository is read or written, not in lists).",
    )


class RepositoryPage(BaseModel):
    repositories: list[RepositoryOut]
    next: str | None = Field(None, description="Pass as `last` to read the next page; null on the last page.")


class TemplateIn(SettingsChange):
    create_on_push: StrictBool = Field(False, description="Whether a push may create repositories under the prefix.")


class TemplateOut(BaseModel):
    prefix: str
    create_on_push: bool
    description: str
    labels: dict[str, str]
    visibility: str
    tag_mutability: TagMutability
    tag_mutability_exclusion_filters: list[str]
    scan_on_push: bool
    lifecycle_policy: dict[str, Any] | None
    tag_rules: TagRulesOut | None = Field(None, description="Copied to each repository created under the prefix.")
    created_at: Timestamp
    updated_at: Timestamp


class PlatformOut(BaseModel):
    os: str | None
    architecture: str | None
    variant: str | None
    digest: str


class ScanSummaryOut(BaseModel):
    """An image's scan (scan on push, issue 13): its state and findings per severity."""

    status: str = Field(..., description="PENDING, IN_PROGRESS, COMPLETE, FAILED or UNSUPPORTED_IMAGE.")
    reason: str | None = Field(None, description="Why the scan FAILED or the image is UNSUPPORTED_IMAGE.")
    database_version: str | None = Field(None, description="The vulnerability database the findings came from.")
    completed_at: Timestamp | None = None
    counts: dict[str, int] = Field(default_factory=dict, description="Findings per severity (every severity).")


class ImageOut(BaseModel):
    digest: str
    tags: list[str]
    media_type: str
    artifact_type: str | None
    size: int = Field(..., description="Total compressed size: manifest(s) and every referenced blob.")
    platforms: list[PlatformOut]
    pushed_at: Timestamp
    pushed_by: str | None
    last_pulled_at: Timestamp | None
    pull_count: int
    parents: list[str] = Field(
        default_factory=list,
        description="Indexes of the repository that list this image (a platform of theirs, kept while they are).",
    )
    scan: ScanSummaryOut | None = Field(None, description="Its latest scan; null if it was never scanned.")


class ImagePage(BaseModel):
    images: list[ImageOut]
    next: int | None = Field(None, description="Pass as `after` to read the next page; null on the last page.")


class ImageId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str | None = Field(None, max_length=128)
    digest: str | None = Field(None, max_length=200)


class BatchDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_ids: list[ImageId] = Field(..., min_length=1, max_length=100)
    force: StrictBool = Field(
        False, description="Registry admins: delete images that carry immutable tags (needs `reason`)."
    )
    reason: str | None = Field(None, max_length=500, description="Why a forced delete is needed (audit log).")


class DeleteResult(BaseModel):
    reference: str
    deleted: bool
    code: str | None = None
    message: str | None = None


class BatchDeleteResult(BaseModel):
    results: list[DeleteResult]


class ActorOut(BaseModel):
    kind: str
    name: str
    credential: str | None


class TagEventOut(BaseModel):
    id: int
    repository: str
    tag: str
    action: Literal["create", "move", "delete"]
    old_digest: str | None
    new_digest: str | None
    actor: ActorOut
    source_address: str | None
    at: Timestamp


class TagHistory(BaseModel):
    events: list[TagEventOut]
    next: int | None = None


class TagAt(BaseModel):
    repository: str
    tag: str
    at: Timestamp
    digest: str | None = Field(..., description="What the tag pointed to at `at`; null if it did not exist then.")
    event: TagEventOut | None = Field(..., description="The change that made it so.")


class AuditEntryOut(BaseModel):
    id: int
    at: Timestamp
    action: str
    repository: str | None
    target: str | None
    outcome: str
    actor: ActorOut
    source_address: str | None
    detail: dict[str, Any] | None
    prev_hash: str | None = Field(None, description="The hash of the entry before this one (the hash chain).")
    hash: str | None = Field(None, description="SHA-256 over this entry's canonical encoding (docs/governance.md).")


class ChainHeadOut(BaseModel):
    id: int | None = Field(description="The newest entry's id; null when the log is empty.")
    hash: str = Field(description="The newest entry's hash: keep it elsewhere and pass it to verify later.")
    entries: int


class ChainBreakOut(BaseModel):
    id: int | None = Field(description="The first entry changed, removed (its id) or inserted.")
    problem: Literal["changed", "removed", "inserted", "head"]
    message: str


class ChainVerification(BaseModel):
    valid: bool
    entries: int = Field(description="Entries checked (up to the first break).")
    head: ChainHeadOut
    first_break: ChainBreakOut | None


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next: int | None = None


class UsageOut(BaseModel):
    name: str
    repositories: int
    images: int
    logical_bytes: int = Field(..., description="Sum of the images' sizes (layers shared by images counted per image).")
    stored_bytes: int = Field(..., description="Distinct blobs linked to the repositories plus their manifests.")
    exclusive_bytes: int = Field(
        ..., description="Bytes no repository outside this scope shares: what deleting it frees."
    )
    manifest_bytes: int

    @classmethod
    def of(cls, name: str, usage: Usage) -> UsageOut:
        return cls(name=name, **usage.__dict__)
