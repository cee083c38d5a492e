"""`moorage vulndb import|status`: fill the registry's vulnerability database with OSV data, and inspect it.

`import` takes what OSV publishes, or copies of it carried into an air-gapped site:
- a file: an ecosystem's `all.zip` export or one record's `.json`;
- a directory: every `*.json` below it, zipped here into one upload, so it is imported all or
  nothing like an `all.zip`;
- an `http(s)://` URL: downloaded by this command, then uploaded. The registry never fetches URLs
  itself (a request must not make it reach into its own network).
The upload goes to `POST /api/v1/vulnerability-database/imports` (registry admins only).
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer

from moorage.cli.client import Registry, masked
from moorage.cli.connection import connected
from moorage.cli.errors import UNREACHABLE, USAGE, CliError
from moorage.cli.output import JsonOption, emit, table

vulndb_app = typer.Typer(help="The vulnerability database: import OSV data, show what it holds.", no_args_is_help=True)

LONG = 3600.0  # seconds: a large all.zip takes a while to upload and store
DOWNLOAD_CHUNK = 1024 * 1024
SOURCE_COLUMNS = ("name", "records", "imported_at", "filename", "records_read", "records_stored", "imports")


def default_source(location: str) -> str:
    """`…/Debian/all.zip` → `debian`; `GHSA-xxxx.json` → `ghsa-xxxx`; a directory → its name."""
    path = PurePosixPath(urlsplit(location).path if _is_url(location) else Path(location).resolve().as_posix())
    name = path.parent.name if path.name == "all.zip" else (path.stem if path.suffix else path.name)
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:64]
    return cleaned or "osv"


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


@contextmanager
def _upload_file(location: str, verbose_name: str) -> Iterator[tuple[IO[bytes], str]]:
    """The bytes to upload and the file name to give them, whatever `location` is."""
    if _is_url(location):
        with tempfile.TemporaryFile(prefix="moorage-vulndb-") as spool:
            _download(location, spool)
            spool.seek(0)
            yield spool, PurePosixPath(urlsplit(location).path).name or "download"
        return
    path = Path(location)
    if path.is_dir():
        with tempfile.TemporaryFile(prefix="moorage-vulndb-") as spool:
            count = _zip_directory(path, spool)
            if count == 0:
                raise CliError(f"{path} holds no *.json files", USAGE)
            typer.echo(f"moorage: zipped {count} JSON files from {path}", err=True)
            spool.seek(0)
            yield spool, f"{path.resolve().name or 'records'}.zip"
        return
    if not path.is_file():
        raise CliError(f"no such file or directory: {verbose_name}", USAGE)
    with path.open("rb") as opened:
        yield opened, path.name


def _download(url: str, spool: IO[bytes]) -> None:
    typer.echo(f"moorage: downloading {masked(url)}", err=True)
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=LONG) as response:
            if response.is_error:
                raise CliError(f"{masked(url)} answered HTTP {response.status_code}", UNREACHABLE)
            for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                spool.write(chunk)
    except httpx.HTTPError as error:
        raise CliError(f"cannot download {masked(url)}: {error or type(error).__name__}", UNREACHABLE) from None


def _zip_directory(directory: Path, spool: IO[bytes]) -> int:
    count = 0
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(directory.rglob("*.json")):
            if file.is_file():
                archive.write(file, file.relative_to(directory).as_posix())
                count += 1
    return count


def _content_type(head: bytes) -> str:
    return "application/zip" if head.startswith(b"PK") else "application/json"


@vulndb_app.command("import")
@connected
def import_records(
    registry: Registry,
    location: Annotated[
        str, typer.Argument(metavar="PATH|URL", help="An all.zip, a .json record, a directory of them, or a URL.")
    ],
    source: Annotated[
        str | None,
        typer.Option("--source", help="Whose data this is (debian, alpine, ghsa…); default: from the file name."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import OSV records; ones not newer (`modified`) than the stored copy are skipped."""
    name = source or default_source(location)
    with _upload_file(location, location) as (upload, filename):
        head = upload.read(4)
        upload.seek(0)
        typer.echo(f"moorage: uploading {filename} as source {name}", err=True)
        report = registry.call(
            "POST",
            "/vulnerability-database/imports",
            params={"source": name, "filename": filename},
            content=upload,
            headers={"Content-Type": _content_type(head)},
            timeout=LONG,
        )
    if as_json:
        emit(report, True)
        return
    typer.echo(
        f"{report['source']}: {report['records_read']} records read from {report['filename']}: "
        f"{report['records_added']} added, {report['records_updated']} updated, "
        f"{report['records_skipped']} not newer (skipped) in {report['seconds']} s; "
        f"database version {report['database_version']}"
    )


@vulndb_app.command("status")
@connected
def status(registry: Registry, as_json: JsonOption = False) -> None:
    """The database's version, its sources with their last import, and records per ecosystem."""
    found: dict[str, Any] = registry.call("GET", "/vulnerability-database")
    if as_json:
        emit(found, True)
        return
    if found["version"] is None:
        typer.echo("the vulnerability database is empty: run `moorage vulndb import PATH|URL`")
        return
    typer.echo(f"version {found['version']} (changed {found['changed_at']})")
    typer.echo(f"{found['records']} records ({found['withdrawn']} withdrawn)")
    typer.echo("")
    table(found["sources"], SOURCE_COLUMNS)
    typer.echo("")
    ecosystems = [{"ecosystem": key, "records": value} for key, value in found["ecosystems"].items()]
    table(ecosystems, ("ecosystem", "records"))
