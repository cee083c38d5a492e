"""The composition root: the only place that builds concrete objects and wires them together."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.api import admission as admission_api
from moorage.api.drain import DrainUnreadBody
from moorage.api.manage import cache_rules as cache_rules_api
from moorage.api.manage import gc as gc_api
from moorage.api.manage import issuers as oidc_issuers_api
from moorage.api.manage import lifecycle as lifecycle_api
from moorage.api.manage import scan_gates as scan_gates_api
from moorage.api.manage import scans as scans_api
from moorage.api.manage import signing_keys as signing_keys_api
from moorage.api.manage import vulndb as vulndb_api
from moorage.api.manage import webhooks as webhooks_api
from moorage.api.manage.accounts import ACCOUNT_ROUTERS
from moorage.api.manage.app import create_management_api
from moorage.api.manage.governance import governance_routers
from moorage.api.registry_guard import RegistryGuard
from moorage.api.scan_gate import PullGate
from moorage.api.token import token_routes
from moorage.api.v2.context import RegistryServices
from moorage.api.v2.redirects import RedirectPolicy
from moorage.api.v2.router import RegistryAPI
from moorage.app_auth import build_auth, secret_box
from moorage.auth.oidc_federation import OidcFederation
from moorage.auth.oidc_keys import JwksCache
from moorage.auth.oidc_verifier import OidcVerifier
from moorage.config import Settings, settings_from_environment
from moorage.domain.access import AccessPolicy, Actor, AllowAll
from moorage.events.subscriptions import AuditRecord
from moorage.events.webhooks import Webhooks, WebhookSettings
from moorage.gc.collector import GarbageCollector
from moorage.gc.metrics import MaintenanceMetrics
from moorage.governance.hook import GovernanceHook
from moorage.governance.services import Governance
from moorage.lifecycle.service import LifecycleService
from moorage.metadata.database import Database
from moorage.metadata.jobs import JobQueue
from moorage.metadata.registry_stats import RegistryStats, registry_stats
from moorage.observability.http_metrics import HttpMetrics
from moorage.observability.metrics_endpoint import exposition_registry, in_process_registry, metrics_endpoint
from moorage.observability.middleware import ObserveRequests
from moorage.observability.registry_metrics import RegistryMetrics
from moorage.proxy.cache import PullThroughCache
from moorage.proxy.fill import CacheFill
from moorage.proxy.metrics import ProxyMetrics
from moorage.proxy.rule_service import CacheRules
from moorage.proxy.scan_layers import UpstreamLayers
from moorage.registry.blobs import BlobService
from moorage.registry.hooks import RegistryHook
from moorage.registry.listings import ListingService
from moorage.registry.manifests import ManifestService
from moorage.registry.uploads import UploadService
from moorage.scanning.admission import AdmissionReviewer
from moorage.scanning.gate import GatePolicy
from moorage.scanning.gate_audit import GateAudit
from moorage.scanning.gate_policies import GatePolicies
from moorage.scanning.gate_service import ScanGate, ScanReports
from moorage.scanning.results import ScanResults
from moorage.scanning.sbom import SBOM_MEDIA_TYPE
from moorage.scanning.sbom_referrer import SbomPublisher
from moorage.scanning.scan_job import ScanJob
from moorage.scanning.scanner import OsvScanner
from moorage.scanning.service import ScanHook, ScanningService
from moorage.scanning.vulndb import VulnerabilityDatabase
from moorage.storage.blobstore import BlobStore
from moorage.storage.filesystem import FilesystemBlobStore
from moorage.storage.s3 import S3BlobStore, s3_client
from moorage.web.app import create_web_app, web_services
from moorage.workers.background import BackgroundWork
from moorage.workers.jobs import JobRunner
from moorage.workers.maintenance import MaintenanceSchedule


class Moorage:
    """Routes /v2/ straight to the registry API (the hot path), /api/ to management, the rest to Starlette."""

    def __init__(self, registry: ASGIApp, management: ASGIApp, other: ASGIApp) -> None:
        self.registry = registry
        self.management = management
        self.other = other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/v2" or path.startswith("/v2/")):
            await self.registry(scope, receive, send)
        elif path.startswith("/api/"):
            await self.management(scope, receive, send)
        else:
            await self.other(scope, receive, send)


def build_blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name: the data directory, or a bucket of an S3-compatible store."""
    if settings.storage == "s3":
        if not settings.s3_bucket:
            raise ValueError("storage = s3 needs s3_bucket")
        client = s3_client(
            settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key_id, settings.s3_secret_access_key
        )
        return S3BlobStore(
            client, settings.s3_bucket, settings.s3_prefix, redirect_seconds=settings.s3_redirect_seconds or None
        )
    return FilesystemBlobStore(settings.data_dir.resolve())


def build_services(
    settings: Settings, database: Database, policy: AccessPolicy, more_hooks: Sequence[RegistryHook] = ()
) -> tuple[RegistryServices, Governance]:
    store = build_blob_store(settings)
    governance = Governance.build(
        database,
        policy,
        settings.create_on_push,
        settings.pull_flush_interval,
        settings.audit_pulls,
        settings.audit_pull_window_seconds,
    )
    hooks = [governance.hook, ScanHook(settings.scan_on_push, SBOM_MEDIA_TYPE), *more_hooks]
    # governance first: what it refuses, no one else hears of
    manifests = ManifestService(database, hooks)
    governance = governance.with_manifests(database, manifests)
    services = RegistryServices(
        blobs=BlobService(database, store, hooks, timedelta(seconds=settings.gc_grace_period_seconds)),
        uploads=UploadService(database, store, hooks),
        manifests=manifests,
        listings=ListingService(database),
        local_reads=database.reads_are_local,
        pulls=governance.pulls,
        redirects=RedirectPolicy.of(settings.s3_redirect_exclude_networks, settings.s3_redirect_exclude_hosts),
    )
    return services, governance


def build_oidc_federation(settings: Settings, database: Database) -> OidcFederation:
    keys = JwksCache(ttl=settings.oidc_jwks_cache_seconds, timeout=settings.oidc_fetch_timeout_seconds)
    return OidcFederation(
        database,
        keys,
        leeway=settings.oidc_clock_skew_seconds,
        credential_lifetime=timedelta(seconds=settings.oidc_credential_lifetime_seconds),
    )


def build_collector(settings: Settings, database: Database, store: BlobStore) -> GarbageCollector:
    return GarbageCollector(
        database,
        store,
        grace_period=timedelta(seconds=settings.gc_grace_period_seconds),
        upload_max_age=timedelta(seconds=settings.upload_max_age_seconds),
        batch_size=settings.gc_batch_size,
        batch_pause=settings.gc_batch_pause_seconds,
        lease_ttl=timedelta(seconds=settings.gc_lease_seconds),
    )


def registry_host(settings: Settings) -> str | None:
    """The host clients pull from, for pull references in events: `external_url`'s, else the listening address."""
    if settings.external_url:
        return settings.external_url.split("://", 1)[-1].split("/", 1)[0] or None
    if settings.host in ("0.0.0.0", "::", ""):
        return None
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{host}:{settings.port}"


def build_webhooks(settings: Settings, database: Database, audit: AuditRecord) -> Webhooks:
    webhook_settings = WebhookSettings(
        allow_private_targets=settings.webhook_allow_private_targets,
        timeout=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        retry_base=settings.webhook_retry_base_seconds,
        retry_max=settings.webhook_retry_max_seconds,
        poll_interval=settings.webhook_poll_interval_seconds,
        concurrency=settings.webhook_concurrency,
        registry_host=registry_host(settings),
        log_retention_days=settings.webhook_log_retention_days,
        ca_file=settings.webhook_ca_file,
    )
    return Webhooks.build(database, secret_box(settings, create=True), audit, webhook_settings)


def new_cache_fill(services: RegistryServices, governance: Governance, metrics: ProxyMetrics) -> CacheFill:
    """A cache fill over the registry's services; its repositories are created whatever `create_on_push` says."""
    database = services.manifests.database
    hooks = [
        GovernanceHook(governance.audit, True) if hook is governance.hook else hook for hook in services.manifests.hooks
    ]
    return CacheFill(
        database,
        ManifestService(database, hooks),
        UploadService(database, services.blobs.store, hooks),
        governance.audit,
        lambda upstream: metrics.count("fill", upstream),
    )


def build_upstream_layers(
    services: RegistryServices, governance: Governance, settings: Settings, metrics: ProxyMetrics, rules: CacheRules
) -> UpstreamLayers:
    """What the scan job asks for the layers of a cached image no client pulled yet (proxy/scan_layers.py)."""
    return UpstreamLayers(
        services.manifests.database,
        rules,
        lambda: new_cache_fill(services, governance, metrics),
        governance.audit,
        settings.proxy_upstream_timeout_seconds,
    )


def build_pull_through_cache(
    registry: ASGIApp,
    services: RegistryServices,
    governance: Governance,
    settings: Settings,
    metrics: ProxyMetrics,
    rules: CacheRules,
) -> PullThroughCache:
    """The cache wraps the registry API; its fills create repositories whatever `create_on_push` says
    (a cache rule is the admin's decision that they exist; a template's own `create_on_push` still rules)."""
    fill = new_cache_fill(services, governance, metrics)
    ttl = timedelta(seconds=settings.proxy_tag_ttl_seconds)
    return PullThroughCache(
        registry,
        services,
        services.manifests.database,
        rules,
        fill,
        ttl,
        settings.proxy_upstream_timeout_seconds,
        metrics.count,
    )


def build_scanning(
    settings: Settings,
    database: Database,
    services: RegistryServices,
    vulndb: VulnerabilityDatabase,
    upstream_layers: UpstreamLayers,
) -> tuple[ScanningService, JobRunner]:
    """Scan on push: the scanning service the API reads, and the job runner that scans (docs/scanning.md)."""
    publisher = SbomPublisher(services.blobs, services.uploads, services.manifests)
    scanner = OsvScanner(database, vulndb)
    job = ScanJob(database, services.manifests, services.blobs, publisher, scanner, upstream_layers.ensure)
    runner = JobRunner(
        JobQueue(database),
        [job],
        workers=settings.scan_workers,
        poll_interval=settings.job_poll_seconds,
        lease=timedelta(seconds=settings.job_lease_seconds),
        retry_base=settings.job_retry_seconds,
    )
    return ScanningService(database, services.manifests, ScanResults(database)), runner


def build_scan_gate(
    settings: Settings, database: Database, governance: Governance, manifests: ManifestService, reports: ScanReports
) -> tuple[ScanGate, GateAudit]:
    """The scan gate (docs/scanning.md "Gates"): policies in force, judged against the scan results."""
    default = None
    if settings.scan_gate_max_severity is not None or settings.scan_gate_require_scan:
        default = GatePolicy.of(
            {"max_severity": settings.scan_gate_max_severity, "require_scan": settings.scan_gate_require_scan}
        )
    policies = GatePolicies(database, governance.audit, default, settings.scan_gate_cache_seconds)
    return ScanGate(manifests, policies, reports), GateAudit(database, settings.audit_pull_window_seconds)


def registry_hosts(settings: Settings) -> list[str]:
    """The names nodes pull from this registry by (the admission webhook's): the setting and external_url's host."""
    hosts = list(settings.scan_gate_registry_hosts)
    if settings.external_url:
        hosts.append(urlsplit(settings.external_url).netloc)
    return hosts


def create_app(settings: Settings | None = None) -> ASGIApp:
    """Build the ASGI app; workers call this with the settings `moorage serve` resolved."""
    return build(settings if settings is not None else settings_from_environment())[0]


def build(settings: Settings) -> tuple[ASGIApp, BackgroundWork]:
    """The ASGI app and the background work it runs in its lifespan (unless `background_work` is off);
    `moorage worker` builds the same and runs only the background work."""
    database = Database(settings.metadata_url())
    oidc = build_oidc_federation(settings, database)
    auth = None
    if settings.auth_is_enabled():
        # Visibility is governance's setting, and governance asks auth's roles: resolve the cycle lazily.
        def is_public(name: str) -> bool:
            return governance.repositories.is_public(name)

        def login_failed(username: str, source_address: str | None, reason: str) -> None:
            actor = Actor("unauthenticated", username, source_address=source_address)
            governance.audit.record("auth.login", actor, outcome="failure", detail={"reason": reason})

        auth = build_auth(settings, database, oidc.still_valid, is_public, login_failed)
        auth.chain.add(OidcVerifier(oidc))
    webhooks = build_webhooks(settings, database, lambda *entry: governance.audit.record(*entry))
    policy = auth.policy if auth is not None else AllowAll()
    services, governance = build_services(settings, database, policy, [webhooks.hook])

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def check_stores() -> None:
        with database.read() as connection:
            connection.exec_driver_sql("SELECT 1")
        services.blobs.store.check()

    async def readyz(request: Request) -> JSONResponse:
        """Ready when both stores answer: a load balancer takes a node out while either is unreachable."""
        try:
            await anyio.to_thread.run_sync(check_stores)
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            return JSONResponse({"status": "unavailable", "detail": type(error).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    lifecycle = LifecycleService(
        database,
        lease_ttl=timedelta(seconds=settings.gc_lease_seconds),
        announce_deletion=services.manifests.announce_deletion,
        grace_period=timedelta(seconds=settings.lifecycle_grace_period_seconds),
        batch_pause=settings.lifecycle_batch_pause_seconds,
    )
    collector = build_collector(settings, database, services.blobs.store)
    schedule = MaintenanceSchedule(
        lifecycle, collector, settings.lifecycle_interval_seconds, settings.gc_interval_seconds
    )
    # Scanning's vulnerability database: uploads spool under the data directory (docs/scanning.md).
    vulndb = VulnerabilityDatabase(
        database, settings.data_dir.resolve() / "vulndb-imports", settings.vulndb_import_max_bytes
    )
    proxy_metrics = ProxyMetrics()
    # One set of cache rules for the pull path, the scanner's layer fetches and the management API:
    # a rule changed here is in force for all three at once.
    cache_rules = CacheRules(database, secret_box(settings, create=True), governance.audit)
    upstream_layers = build_upstream_layers(services, governance, settings, proxy_metrics, cache_rules)
    scanning, scan_runner = build_scanning(settings, database, services, vulndb, upstream_layers)
    scan_gate, gate_audit = build_scan_gate(settings, database, governance, services.manifests, scanning.results)
    pull_gate = PullGate(scan_gate, gate_audit, auth.roles if auth is not None else None, database.reads_are_local)
    services = dataclasses.replace(services, read_gate=pull_gate)

    def stats() -> RegistryStats:
        with database.read() as connection:
            return registry_stats(connection)

    # Collectors that read shared state at scrape time (docs/operations.md, "Metrics"): add yours here.
    metrics = exposition_registry([MaintenanceMetrics(collector.totals), RegistryMetrics(stats), webhooks.metrics])
    http_metrics = HttpMetrics(in_process_registry(metrics))

    background = BackgroundWork([schedule, webhooks.worker, scan_runner])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.background_work:
            background.start()
        yield
        if settings.background_work:
            await anyio.to_thread.run_sync(background.stop)
        # A clean stop (SIGTERM, SIGINT) writes the pulls counted since the last flush: only a crash loses them.
        await anyio.to_thread.run_sync(governance.pulls.close)
        await cache.aclose()
        await anyio.to_thread.run_sync(gate_audit.flush)
        http_metrics.close()  # a worker replaced at a reload hands its last second of request counts on

    metrics.register(proxy_metrics)
    cache = build_pull_through_cache(RegistryAPI(services), services, governance, settings, proxy_metrics, cache_rules)
    registry: ASGIApp = cache
    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint(metrics, settings.metrics_token, before=http_metrics.flush)),
    ]
    if auth is not None:
        registry = RegistryGuard(registry, auth.tokens, auth.roles, settings.token_service, settings.external_url)
        routes += token_routes(auth.token_server, settings.token_service)
    # The web UI (docs/web-ui.md) takes every path the routes above do not.
    ui = web_services(
        governance,
        lifecycle,
        services.manifests,
        services.blobs,
        auth,
        settings.web_session_hours,
        settings.external_url,
        scanning.results,
    )
    routes.append(Mount("/", app=create_web_app(ui)))
    other = Starlette(routes=routes, lifespan=lifespan)
    admission = AdmissionReviewer(scan_gate, registry_hosts(settings), settings.scan_gate_admission_foreign_images)
    state = {
        "registry": services,
        "database": database,
        "governance": governance,
        "oidc": oidc,
        "auth": auth,
        "lifecycle": lifecycle,
        "gc": collector,
        "webhooks": webhooks,
        "cache_rules": cache_rules,
        "scanning": scanning,
        "vulndb": vulndb,
        "scan_gate": scan_gate,
        "admission": admission,
    }
    # Lifecycle and GC routes first: governance's `/repositories/{name:path}` would swallow theirs.
    routers = [
        lifecycle_api.router,
        gc_api.router,
        scans_api.router,
        admission_api.router,
        scan_gates_api.router,
        *governance_routers(),
        *ACCOUNT_ROUTERS,
        oidc_issuers_api.router,
    ]
    routers.append(signing_keys_api.router)
    routers.append(webhooks_api.router)
    routers.append(cache_rules_api.router)
    routers.append(vulndb_api.router)
    management = create_management_api(state, routers)
    # Outermost: an early refusal (401, 404, 413…) reaches clients that send the whole body first.
    asgi: ASGIApp = ObserveRequests(DrainUnreadBody(Moorage(registry, management, other)), http_metrics)
    if settings.trusted_proxies:
        # uvicorn's package imports its command line (click, watchfiles): only behind a proxy.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        # The client's address (and scheme) as the load balancer saw it, for every layer below.
        trusted = [str(network) for network in settings.trusted_proxies]
        asgi = cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, asgi), trusted_hosts=trusted))
    return asgi, background
