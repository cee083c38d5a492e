"""The governance services, built together by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.access import AccessPolicy
from moorage.governance.audit import AuditLog
from moorage.governance.hook import GovernanceHook
from moorage.governance.images import ImageService
from moorage.governance.pulls import AuditPulls, PullRecorder
from moorage.governance.repositories import RepositoryService
from moorage.governance.tag_naming import TagRuleService
from moorage.governance.templates import TemplateService
from moorage.governance.usage import UsageService
from moorage.metadata.database import Database
from moorage.registry.manifests import ManifestService


@dataclass(frozen=True)
class Governance:
    audit: AuditLog
    hook: GovernanceHook
    repositories: RepositoryService
    templates: TemplateService
    usage: UsageService
    pulls: PullRecorder
    tag_rules: TagRuleService
    images: ImageService | None = None

    @classmethod
    def build(
        cls,
        database: Database,
        policy: AccessPolicy,
        create_on_push: bool,
        pull_flush_interval: float,
        audit_pulls: AuditPulls = "aggregate",
        audit_pull_window_seconds: int = 60,
    ) -> Governance:
        audit = AuditLog(database, policy)
        return cls(
            audit=audit,
            hook=GovernanceHook(audit, create_on_push),
            repositories=RepositoryService(database, audit),
            templates=TemplateService(database, audit),
            usage=UsageService(database),
            pulls=PullRecorder(database, pull_flush_interval, audit_pulls, audit_pull_window_seconds),
            tag_rules=TagRuleService(database, audit),
        )

    def with_manifests(self, database: Database, manifests: ManifestService) -> Governance:
        """Add the image service, which deletes through the registry's own (hooked) manifest service."""
        return Governance(**{**self.__dict__, "images": ImageService(database, manifests, self.audit)})
