"""The `moorage` command line."""

from __future__ import annotations

import json
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from moorage.cli import maintenance
from moorage.cli.accounts import register as register_account_commands
from moorage.cli.admin import admin_app
from moorage.cli.cache_rules import cache_rule_app
from moorage.cli.docker_config import configure_docker
from moorage.cli.gate import gate as gate_command
from moorage.cli.governance import register as register_governance
from moorage.cli.issuers import issuers_app
from moorage.cli.keys import keys_app
from moorage.cli.scan_gates import scan_gate_app
from moorage.cli.scans import register as register_scan_commands
from moorage.cli.session import register as register_session_commands
from moorage.cli.tag_rules import tag_rules_app
from moorage.cli.vulndb import vulndb_app
from moorage.cli.webhooks import webhook_app

if TYPE_CHECKING:
    from moorage.config import Settings

app = typer.Typer(help="moorage: a self-hosted OCI container registry.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect the configuration.")
app.add_typer(config_app, name="config")
register_session_commands(app)
app.command("configure-docker")(configure_docker)
register_governance(app)
app.add_typer(issuers_app, name="issuers")
app.add_typer(admin_app, name="admin")
register_account_commands(app)
app.add_typer(keys_app, name="keys")
app.add_typer(maintenance.lifecycle_app, name="lifecycle")
app.add_typer(maintenance.gc_app, name="gc")
app.add_typer(tag_rules_app, name="tag-rules")
app.add_typer(webhook_app, name="webhook")
app.add_typer(cache_rule_app, name="cache-rule")
register_scan_commands(app)
app.add_typer(scan_gate_app, name="scan-gate")
app.command("gate")(gate_command)


class LogFormat(StrEnum):
    """The choices of `--log-format` (the `log_format` setting)."""

    auto = "auto"
    json = "json"
    text = "text"


app.add_typer(vulndb_app, name="vulndb")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Settings file (TOML); default: ./moorage.toml if present.")
]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    from moorage.config import CONFIG_FILE_VARIABLE, Settings  # only here: commands over HTTP start faster

    if config is not None:
        if not config.is_file():
            raise typer.BadParameter(f"no such file: {config}", param_hint="--config")
        os.environ[CONFIG_FILE_VARIABLE] = str(config)
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default: 5000).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Blobs and embedded database (default: ./moorage-data).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Metadata store URL (default: SQLite in the data dir).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="HTTP worker processes (default: 1).")] = None,
    auth: Annotated[
        bool | None,
        typer.Option(
            "--auth/--no-auth",
            help="Require sign-in (sets auth_enabled; default: on unless listening on loopback only).",
            show_default=False,
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", help="Serve HTTPS with this PEM certificate (chain); reloaded on SIGHUP."),
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="The PEM private key of --tls-cert.")] = None,
    log_format: Annotated[
        LogFormat | None, typer.Option("--log-format", help="Log lines as JSON or text; auto: text on a terminal.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run the registry."""
    from moorage.serve import run

    settings = _settings(
        config,
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        workers=workers,
        auth_enabled=auth,
        tls_cert_file=tls_cert,
        tls_key_file=tls_key,
        log_format=log_format.value if log_format is not None else None,
    )
    run(settings)


@app.command()
def worker(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (default: ./moorage-data).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Metadata store URL (default: SQLite in the data dir).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Do the background work (scans, webhooks, lifecycle, GC) without serving HTTP."""
    from moorage.worker import run_worker

    run_worker(_settings(config, data_dir=data_dir, database_url=database_url))


@app.command()
def migrate(
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Metadata store URL (default: the settings').")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Only report; exit 1 when migrations are pending.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Apply the metadata store's schema migrations (once per cluster upgrade, before new nodes start)."""
    from moorage.startup import migrate_schema

    settings = _settings(config, database_url=database_url)
    before, after = migrate_schema(settings.metadata_url(), apply=not check)
    report = {
        "applied": list(after.applied),
        "pending": list(after.pending),
        "newer_than_this_version": list(after.newer),
        "migrated_now": [] if check else sorted(set(before.pending) - set(after.pending)),
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    elif after.newer:
        typer.echo(f"the schema is newer than this moorage ({', '.join(after.newer)}): nothing to do")
    elif after.pending:
        typer.echo(f"pending migrations: {', '.join(after.pending)}")
    else:
        migrated = report["migrated_now"]
        typer.echo(
            f"schema up to date ({', '.join(after.applied)})" + (f"; applied {', '.join(migrated)}" if migrated else "")
        )
    if check and after.pending:
        raise typer.Exit(1)


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective settings, secrets masked."""
    typer.echo(json.dumps(_settings(config).masked(), indent=2))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every request line at INFO, with any user:password@ of the URL; commands print
    # their own, masked, with --verbose.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    app()
