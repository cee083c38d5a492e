"""One settings model: defaults < moorage.toml (or --config FILE) < MOORAGE_* environment < flags."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, IPvAnyNetwork
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from moorage.handover import RESOLVED_SETTINGS_VARIABLE

CONFIG_FILE_VARIABLE = "MOORAGE_CONFIG"


class Settings(BaseSettings):
    """Everything moorage can be configured with."""

    model_config = SettingsConfigDict(env_prefix="MOORAGE_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(5000, ge=0, le=65535, description="TCP port to listen on.")
    data_dir: Path = Field(Path("moorage-data"), description="Directory for blobs and the embedded database.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata store; default: SQLite in the data directory."
    )
    server: Literal["granian", "uvicorn"] = Field("granian", description="The HTTP server that runs the app.")
    workers: int = Field(1, ge=1, le=64, description="HTTP worker processes.")
    shutdown_timeout_seconds: int = Field(
        30,
        ge=1,
        le=3600,
        description="On SIGTERM, requests in progress get this long to finish before the workers are killed.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    create_on_push: bool = Field(
        True, description="Whether a push creates an unknown repository (creation templates decide per prefix)."
    )
    pull_flush_interval: float = Field(
        5.0, gt=0, le=3600, description="Seconds between writes of counted manifest pulls to the metadata store."
    )

    # --- audit log (docs/governance.md: "Audit log") ---
    audit_pulls: Literal["off", "aggregate", "all"] = Field(
        "aggregate",
        description="Pulls in the audit log: one entry per identity, image and window (aggregate), per pull, or none.",
    )
    audit_pull_window_seconds: int = Field(
        60, ge=1, le=86400, description="The window pulls are aggregated over (audit_pulls = aggregate)."
    )

    # --- authentication (docs/authentication.md) ---
    auth_enabled: bool | None = Field(
        None, description="Require credentials; default: on unless the registry listens on loopback only."
    )
    allow_unauthenticated_network: bool = Field(
        False, description="Allow auth_enabled=false on a non-loopback address (logged loudly at start)."
    )
    external_url: str | None = Field(
        None, description="Public base URL (token realm); default: taken from each request's Host header."
    )
    token_service: str = Field("moorage", description="The `service` (audience) of registry tokens.")
    token_issuer: str = Field("moorage", description="The `iss` of every token moorage signs.")
    token_lifetime_seconds: int = Field(300, ge=30, le=3600, description="Lifetime of registry tokens.")
    token_clock_skew_seconds: int = Field(30, ge=0, le=300, description="Clock skew tolerated on exp/nbf/iat.")
    login_password_lifetime_hours: float = Field(12, gt=0, le=24 * 7, description="`moorage login-password`.")
    refresh_token_lifetime_days: float = Field(30, gt=0, le=365, description="Refresh tokens (`docker login`).")
    signing_key_rotation_days: float = Field(30, gt=0, le=365, description="A signing key signs this long.")
    admin_username: str = Field("admin", description="Name of the admin created at first start.")
    admin_password: str | None = Field(
        None, description="Password of the first admin; default: generated, written to the data directory."
    )
    login_failures_per_user: int = Field(10, ge=1, description="Failed logins per user name per window.")
    login_failures_per_address: int = Field(50, ge=1, description="Failed logins per client address per window.")
    login_failure_window_seconds: int = Field(300, ge=1, description="The rate-limit window.")
    oidc_jwks_cache_seconds: int = Field(300, ge=60, le=86400, description="How long OIDC issuer keys are cached.")
    oidc_fetch_timeout_seconds: float = Field(5.0, gt=0, le=60, description="Timeout of one OIDC key fetch.")
    oidc_clock_skew_seconds: int = Field(60, ge=0, le=600, description="Clock skew tolerated on ID tokens.")
    oidc_credential_lifetime_seconds: int = Field(
        3600, ge=60, le=43200, description="Lifetime of a credential exchanged for an OIDC ID token."
    )
    # Revocation and credential lifetimes (issue 11, docs/authentication.md).
    login_password_max_hours: float = Field(
        12, gt=0, le=24 * 7, description="The longest login password a client may ask for; more is refused (400)."
    )
    access_token_max_days: float = Field(
        365, gt=0, le=3650, description="The longest personal access token lifetime; more is refused (400)."
    )
    robot_secret_max_days: float = Field(
        365, gt=0, le=3650, description="The longest robot secret lifetime; more is refused (400)."
    )
    allow_non_expiring_credentials: bool = Field(
        False, description="Whether access tokens and robots may be created with `expires_in_days: null` (never)."
    )
    # --- secrets at rest (docs/authentication.md, "Secrets at rest") ---
    secret_key: str | None = Field(
        None,
        min_length=32,
        description="Key that encrypts the signing keys (and other stored secrets); default: the key file.",
    )
    secret_key_file: Path | None = Field(
        None,
        description="File with the secret key, generated (mode 0600) at first start; default: <data_dir>/secret.key.",
    )
    previous_secret_keys: list[str] = Field(
        default_factory=list,
        description="Earlier secret keys, accepted for decryption; every start re-encrypts with the current one.",
    )
    # Lifecycle policies and garbage collection (docs/gc.md, docs/lifecycle.md).
    lifecycle_interval_seconds: float = Field(
        86400, ge=0, description="How often lifecycle policies are applied in the background; 0: never."
    )
    gc_interval_seconds: float = Field(3600, ge=0, description="How often GC runs in the background; 0: never.")
    gc_grace_period_seconds: float = Field(
        86400, ge=0, description="An unreferenced blob is kept this long after its last upload, mount or release."
    )
    upload_max_age_seconds: float = Field(
        86400, ge=0, description="Upload sessions idle this long are abandoned and purged by GC."
    )
    gc_batch_size: int = Field(500, ge=1, le=10000, description="Blobs removed per GC transaction.")
    gc_batch_pause_seconds: float = Field(0.0, ge=0, description="Pause between GC batches (eases load).")
    # Nothing still referenced is deleted (issue 12; docs/lifecycle.md).
    lifecycle_grace_period_seconds: float = Field(
        300, ge=0, description="A manifest pushed less than this long ago is never expired by a lifecycle run."
    )
    lifecycle_batch_pause_seconds: float = Field(
        0.05, ge=0, le=10, description="Pause between a lifecycle run's expiry transactions (25 images each)."
    )
    gc_lease_seconds: float = Field(
        300, gt=0, description="A GC or lifecycle pass that stops renewing its lease for this long is presumed dead."
    )
    # --- webhooks (docs/webhooks.md) ---
    webhook_allow_private_targets: bool = Field(
        False, description="Let webhooks reach loopback and private addresses (link-local/metadata never)."
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60, description="Timeout of one webhook request.")
    webhook_ca_file: Path | None = Field(
        None,
        description="PEM file of certificate authorities trusted for HTTPS webhook receivers, besides the system's "
        "(an internal CA).",
    )
    webhook_max_attempts: int = Field(8, ge=1, le=50, description="Attempts before a delivery is marked failed.")
    webhook_retry_base_seconds: float = Field(
        10.0, gt=0, le=3600, description="Wait after a webhook's first failed attempt; doubles with each failure."
    )
    webhook_retry_max_seconds: float = Field(3600.0, gt=0, le=86400, description="The longest wait between attempts.")
    webhook_poll_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="How often each server process looks for due webhook deliveries."
    )
    webhook_concurrency: int = Field(4, ge=1, le=64, description="Webhook requests each server process sends at once.")
    webhook_log_retention_days: float = Field(
        30, ge=0, le=3650, description="Finished webhook deliveries stay in the delivery log this long; 0: for ever."
    )
    background_work: bool = Field(
        True,
        description="Run background work (scans, webhooks, lifecycle, GC) in this server; false: HTTP only.",
    )
    migrate_on_start: bool = Field(
        True,
        description="Apply pending schema migrations at start; false: refuse to start until `moorage migrate` ran.",
    )
    # --- blob storage (docs/storage.md) ---
    storage: Literal["filesystem", "s3"] = Field(
        "filesystem", description="Where blobs live: the data directory, or an S3-compatible object store."
    )
    s3_bucket: str | None = Field(None, description="The bucket of blobs (storage = s3); it must exist.")
    s3_prefix: str = Field("", description="Key prefix inside the bucket, to share a bucket with other data.")
    s3_endpoint_url: str | None = Field(
        None, description="The object store's URL (MinIO, Ceph RGW, SeaweedFS…); default: AWS S3."
    )
    s3_region: str | None = Field(None, description="The bucket's region; default: boto3's configuration.")
    s3_access_key_id: str | None = Field(
        None, description="Access key; default: boto3's chain (environment, profile, instance role)."
    )
    s3_secret_access_key: str | None = Field(None, description="Secret key of `s3_access_key_id`; masked.")
    s3_redirect_seconds: int = Field(
        0,
        ge=0,
        le=86400,
        description="Answer blob GETs with a 307 to a presigned URL valid this long; 0: bytes pass through the node.",
    )
    s3_redirect_exclude_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Client networks (CIDR) that get blob bytes through the node even with redirects on "
        "(clients that cannot reach the object store).",
    )
    s3_redirect_exclude_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (the request's Host, without port) whose requests get blob bytes through the "
        "node: a route of the load balancer for clients that want no redirect.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of load balancers whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed: the client's address then comes from them (login throttling, audit, redirects).",
    )
    # --- operations: TLS, logs and metrics (docs/operations.md) ---
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate chain to serve HTTPS with (with tls_key_file); reloaded on SIGHUP."
    )
    tls_key_file: Path | None = Field(
        None, description="PEM private key of tls_cert_file; refused if other users may read it."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="Log lines as JSON, or text for people; auto: text on a terminal, JSON elsewhere."
    )
    access_log: bool = Field(True, description="Write one access-log line per request (logger `moorage.access`).")
    metrics_token: str | None = Field(
        None,
        min_length=16,
        description="When set, GET /metrics requires `Authorization: Bearer <this>` (Prometheus' "
        "`authorization.credentials_file`); masked.",
    )
    # --- scan on push and the job queue (issue 13; docs/scanning.md) ---
    scan_on_push: bool = Field(
        False, description="Scan every pushed image, whatever its repository's own scan_on_push setting says."
    )
    scan_workers: int = Field(
        1, ge=0, le=16, description="Threads per server process that run scan jobs; 0: this process runs none."
    )
    job_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often an idle job worker looks for due jobs (a cheap read)."
    )
    job_lease_seconds: float = Field(
        300, ge=5, description="A job whose worker stops renewing its lease for this long is run again elsewhere."
    )
    job_retry_seconds: float = Field(
        30, ge=0, description="Back-off before a failed job's second attempt (x4 for each further attempt)."
    )
    # --- vulnerability database (scan on push: OSV imports, docs/scanning.md) ---
    vulndb_import_max_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=1024,
        description="Largest OSV file (an all.zip or a JSON record) `moorage vulndb import` may upload.",
    )
    # --- scan gates (issue 13, docs/scanning.md "Gates") ---
    scan_gate_max_severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"] | None = Field(
        None,
        description="Registry-wide default gate: refuse pulls of images with a finding at or above this severity "
        "(repositories and namespaces without a policy of their own); default: no default gate.",
    )
    scan_gate_require_scan: bool = Field(
        False, description="Registry-wide default gate: refuse pulls of images without a complete scan."
    )
    scan_gate_cache_seconds: float = Field(
        5.0, ge=0, le=3600, description="How long a process keeps the gate policies it read (other nodes' changes)."
    )
    scan_gate_registry_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (host[:port]) under which nodes pull from this registry, for the admission "
        "webhook; the host of external_url is always one.",
    )
    scan_gate_admission_foreign_images: Literal["allow", "deny"] = Field(
        "allow", description="What the admission webhook answers for images of other registries."
    )
    # --- organisations (namespace ownership) ---
    organization_creation: Literal["admins", "users"] = Field(
        "admins",
        description="Who may create organisations: registry admins only, or any user (never over a namespace in use).",
    )
    # --- web UI (docs/web-ui.md) ---
    web_session_hours: float = Field(
        8, gt=0, le=24 * 7, description="A web UI session ends this long after signing in (sooner when revoked)."
    )

    # --- pull-through cache (issue 14; docs/pull-through-cache.md) ---
    proxy_tag_ttl_seconds: float = Field(
        60, ge=0, le=86400, description="A cached tag is re-resolved upstream (HEAD) when last checked longer ago."
    )
    proxy_upstream_timeout_seconds: float = Field(
        30, gt=0, le=600, description="Timeout of one upstream connection or read (pull-through cache)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get(CONFIG_FILE_VARIABLE, "moorage.toml")
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file)

    def auth_is_enabled(self) -> bool:
        """Explicit setting, else on exactly when the registry is reachable beyond this machine."""
        return self.auth_enabled if self.auth_enabled is not None else not is_loopback(self.host)

    def serves_tls(self) -> bool:
        """Whether `moorage serve` answers HTTPS itself (cookies get `Secure`, clients need no insecure flag)."""
        return self.tls_cert_file is not None and self.tls_key_file is not None

    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'metadata.db'}"

    def secret_key_path(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    def masked(self) -> dict[str, Any]:
        """The effective settings with passwords (also in the database URL) and secret keys hidden."""
        values = self.model_dump(mode="json")
        url = values.get("database_url")
        if url and "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
            scheme, rest = url.split("//", 1)
            credentials, host = rest.split("@", 1)
            values["database_url"] = f"{scheme}//{credentials.split(':', 1)[0]}:***@{host}"
        if values.get("admin_password"):
            values["admin_password"] = "***"
        for secret in ("secret_key", "s3_secret_access_key", "metrics_token"):
            if values.get(secret):
                values[secret] = "***"
        values["previous_secret_keys"] = ["***" for _ in values.get("previous_secret_keys", [])]
        return values


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_environment() -> Settings:
    """The settings `moorage serve` resolved, in a process it started; else the usual sources."""
    resolved = os.environ.get(RESOLVED_SETTINGS_VARIABLE)
    return Settings.model_validate(json.loads(resolved)) if resolved else Settings()
