"""The scanning service: scan on push (a registry hook), scans on demand, re-scan everything, results.

Scan on push: when the effective `scan_on_push` is on — the repository's own setting (which a
creation template sets for new repositories under its prefix) or the registry-wide default
`scan_on_push` in the configuration — every pushed image manifest gets a scan job, enqueued in the
push's own transaction, so the push and its job commit together and the push never waits for the
scan. Each platform of a multi-platform image is pushed as its own manifest and scanned as such;
the index is recorded as the list of its image manifests and aggregates their results. Artifacts
(a config that is not an image config, such as the SBOMs the scanner pushes) are not enqueued.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.domain import media_types as mt
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata import repositories, scans
from moorage.metadata.database import Database
from moorage.registry.hooks import ManifestPushed, RegistryHook
from moorage.registry.manifests import ManifestService
from moorage.scanning.model import Severity
from moorage.scanning.results import FindingsPage, ScanResults, ScanSummary
from moorage.scanning.scan_job import enqueue_scan
from moorage.scanning.seams import IMAGE_CONFIGS

RESCAN_BATCH = 500
"""Image manifests enqueued per transaction by a re-scan of everything."""


class ScanHook(RegistryHook):
    """Enqueues the scan of each pushed image manifest of a repository that scans on push (quick: a few reads)."""

    def __init__(self, scan_on_push_default: bool, sbom_media_type: str) -> None:
        self.scan_on_push_default = scan_on_push_default
        self.sbom_media_type = sbom_media_type

    def manifest_pushed(self, connection: sa.Connection, event: ManifestPushed) -> None:
        if event.media_type not in mt.MANIFESTS:
            return
        if not (self.scan_on_push_default or scans.scan_on_push(connection, event.repository_id)):
            return
        facts = scans.manifest_facts(connection, event.repository_id, event.digest)
        if facts is None:
            return
        if event.media_type in mt.INDEXES:
            scans.request_index(connection, event.digest, facts.children)
            known = scans.statuses(connection, facts.children)
            for child in facts.children:
                if child not in known:  # pushed before scanning was on: scan it now
                    enqueue_scan(connection, child, event.repository)
            return
        if facts.artifact_type not in IMAGE_CONFIGS:
            return  # an artifact (an SBOM, a signature, a Helm chart): nothing to scan
        status = scans.statuses(connection, [event.digest]).get(event.digest)
        if status == scans.COMPLETE and scans.has_referrer(
            connection, event.repository_id, event.digest, self.sbom_media_type
        ):
            return  # the same image pushed again: scanned, and its SBOM is here
        enqueue_scan(connection, event.digest, event.repository)


class ScanningService:
    """Scans on demand and results, by repository reference (so a digest is read only where it is held)."""

    def __init__(self, database: Database, manifests: ManifestService, results: ScanResults) -> None:
        self.database = database
        self.manifests = manifests
        self.results = results

    def resolve(self, repository: str, reference: str) -> str:
        """The digest a tag or digest names in the repository, or MANIFEST_UNKNOWN (a RegistryError)."""
        return self.manifests.get(repository, reference).digest

    def request(self, repository: str, reference: str) -> tuple[str, list[str]]:
        """Scan the image (every image manifest of an index) now; its digest and those whose scans were enqueued.

        A complete result stays readable until the new one replaces it.
        """
        stored = self.manifests.get(repository, reference)
        with self.database.write() as connection:
            repository_id = _repository_id(connection, repository, reference)
            facts = scans.manifest_facts(connection, repository_id, stored.digest)
            if facts is not None and stored.media_type in mt.INDEXES:
                scans.request_index(connection, stored.digest, facts.children)
                for child in facts.children:
                    enqueue_scan(connection, child, repository)
                return stored.digest, list(facts.children)
            enqueue_scan(connection, stored.digest, repository)
            return stored.digest, [stored.digest]

    def rescan_all(self) -> int:
        """Enqueue a scan of every image manifest of the registry (after a database import); how many."""
        count = 0
        after: str | None = None
        while True:
            with self.database.write() as connection:
                batch = scans.image_manifests(
                    connection, sorted(mt.IMAGE_MANIFESTS), sorted(IMAGE_CONFIGS), after, RESCAN_BATCH
                )
                for digest, repository in batch:
                    enqueue_scan(connection, digest, repository)
            count += len(batch)
            if len(batch) < RESCAN_BATCH:
                return count
            after = batch[-1][0]

    def findings(
        self, repository: str, reference: str, at_least: Severity, after: int | None, limit: int
    ) -> tuple[str, FindingsPage | None]:
        """The image's digest and a page of its findings (None: never scanned)."""
        digest = self.resolve(repository, reference)
        return digest, self.results.findings_page(digest, at_least, after, limit)

    def summaries(self, digests: list[str]) -> dict[str, ScanSummary]:
        return self.results.summaries(digests)


def _repository_id(connection: sa.Connection, repository: str, reference: str) -> int:
    found = repositories.find_id(connection, repository)
    if found is None:  # deleted since the manifest was read
        raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, f"manifest {reference!r} is unknown")
    return found
