"""The layers of a cached image, for the scanner: fetched from the upstream through the cache fill.

A pull through the cache stores a manifest when a client asks for it and each layer only when a
client asks for that layer, so scan on push, which starts as soon as the manifest is stored, would
find the layers missing and end FAILED. The scan job asks `ensure` for the layers it is about to
read: in a repository the cache created, the missing ones are copied in by the same fill a client's
pull uses (verified, committed, one fetch across processes thanks to the lease), as the scanner's
own pull, each audited as `proxy.fill` by the scanner. Hosted repositories, and cached ones whose
rule was deleted, are left alone (their layers are there, or the scan says which one is missing).

The scan job runs in a worker thread (of the server, or of `moorage worker`) with no event loop,
so `ensure` runs the fills on a loop of its own, with a fill and an upstream client of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from moorage.domain.access import Actor
from moorage.domain.digests import Digest
from moorage.governance.audit import AuditLog
from moorage.metadata import blobs, repositories
from moorage.metadata import cache_rules as cache_queries
from moorage.metadata.database import Database
from moorage.proxy.fill import CacheFill
from moorage.proxy.rule_service import CacheRules
from moorage.proxy.rules import CacheRule, rule_for
from moorage.proxy.upstream import UpstreamClient


class LayerNotFetched(Exception):
    """A layer the scan needs could not be copied from the upstream (the scan job tries again later)."""


class UpstreamLayers:
    def __init__(
        self,
        database: Database,
        rules: CacheRules,
        new_fill: Callable[[], CacheFill],
        audit: AuditLog,
        upstream_timeout: float,
    ) -> None:
        self.database = database
        self.rules = rules
        self.new_fill = new_fill
        self.audit = audit
        self.upstream_timeout = upstream_timeout

    def ensure(self, repository: str, digests: list[str], actor: Actor) -> None:
        """Make the blobs present in `repository` if it is a cached one; raises when a fill fails."""
        missing = self._missing(repository, digests)
        if not missing:
            return
        rule = rule_for(self.rules.active(), repository)
        if rule is None:
            return
        asyncio.run(self._fetch(rule, repository, missing, actor))

    def _missing(self, repository: str, digests: list[str]) -> list[str]:
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None or not cache_queries.is_cached_repository(connection, repository_id):
                return []
            return [digest for digest in digests if blobs.size_in_repository(connection, repository, digest) is None]

    async def _fetch(self, rule: CacheRule, repository: str, digests: list[str], actor: Actor) -> None:
        client = UpstreamClient(rule, self.upstream_timeout)
        fill = self.new_fill()
        try:
            for digest in dict.fromkeys(digests):
                running = await fill.start_blob(rule, client, repository, Digest.parse(digest), actor, listening=False)
                await running.done.wait()
                if running.error is not None:
                    raise LayerNotFetched(
                        f"layer {digest} of {repository} could not be fetched from the upstream "
                        f"{rule.upstream_url}: {running.error}"
                    )
                if not running.elsewhere:
                    await asyncio.to_thread(self._audit, rule, repository, digest, actor)
        finally:
            await fill.aclose()
            await client.close()

    def _audit(self, rule: CacheRule, repository: str, digest: str, actor: Actor) -> None:
        detail = {
            "upstream": rule.upstream_url,
            "upstream_repository": rule.upstream_name(repository),
            "reference": digest,
            "for": "scan",
        }
        with self.database.write() as connection:
            self.audit.record("proxy.fill", actor, repository, digest, detail=detail, connection=connection)
