"""`moorage vulndb import|status`, run as a user would against a registry with authentication on.

The registry is private to the module (empty database, a small upload cap): a file, a directory,
a URL the CLI downloads itself, the size cap, and a user who is not an admin.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.cli_support import AUTH_SETTINGS, Cli
from tests.support.auth import create_user
from tests.support.server import RunningRegistry, start_server

DATA = Path(__file__).resolve().parents[1] / "data" / "osv"
CAP = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    data_dir = tmp_path_factory.mktemp("vulndb-cli")
    with start_server(data_dir, **AUTH_SETTINGS, vulndb_import_max_bytes=str(CAP)) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server: RunningRegistry, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The first admin, logged in once for the module (`moorage login` stores a login password)."""
    cli = Cli(server, tmp_path_factory.mktemp("admin-config"))
    cli.login()
    return cli


@pytest.fixture
def files_over_http(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on loopback serving a folder (what an OSV mirror looks like to the CLI)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
        httpd.shutdown()
        thread.join(5)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def test_importing_a_directory_a_file_and_a_url_then_the_status(
    admin: Cli, tmp_path: Path, files_over_http: tuple[str, Path]
) -> None:
    assert "the vulnerability database is empty" in admin.run("vulndb", "status").stdout
    synthetic = tmp_path / "synthetic"
    shutil.copytree(DATA / "synthetic", synthetic)
    done = admin.run("vulndb", "import", str(synthetic), "--source", "made-up")
    assert "made-up: 6 records read from synthetic.zip: 6 added, 0 updated, 0 not newer" in done.stdout
    report = json.loads(admin.run("vulndb", "import", str(DATA / "real" / "GO-2020-0001.json"), "--json").stdout)
    assert (report["source"], report["records_added"], report["filename"]) == ("go-2020-0001", 1, "GO-2020-0001.json")
    url, folder = files_over_http
    (folder / "PyPI").mkdir()
    shutil.copy(DATA / "real" / "GHSA-h5c8-rqwp-cp95.json", folder / "PyPI" / "GHSA-h5c8-rqwp-cp95.json")
    fetched = json.loads(admin.run("vulndb", "import", f"{url}/PyPI/GHSA-h5c8-rqwp-cp95.json", "--json").stdout)
    assert (fetched["records_added"], fetched["source"]) == (1, "ghsa-h5c8-rqwp-cp95")
    shown = json.loads(admin.run("vulndb", "status", "--json").stdout)
    assert shown["records"] == 8 and shown["version"] == fetched["database_version"]
    assert shown["ecosystems"] == {"Alpine": 1, "Debian": 1, "Go": 1, "PyPI": 2, "Rocky Linux": 1, "npm": 1}
    table = admin.run("vulndb", "status").stdout
    assert f"version {fetched['database_version']}" in table and "8 records (0 withdrawn)" in table
    headings = [line.split()[0] for line in table.splitlines() if line.isupper() or line.startswith("NAME ")]
    assert headings == ["NAME", "ECOSYSTEM"] and "made-up" in table and "Rocky Linux  1" in table


def test_a_malformed_file_is_refused_with_the_reason(admin: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "X", "modified": "soon"}')
    refused = admin.run("vulndb", "import", str(broken), expect=1)
    assert "not an RFC 3339 timestamp" in refused.stderr and "HTTP 400" in refused.stderr


def test_an_upload_over_the_cap_is_refused(admin: Cli, tmp_path: Path) -> None:
    large = tmp_path / "large.json"
    large.write_text(json.dumps({"id": "X", "modified": "2026-01-01T00:00:00Z", "details": "x" * CAP}))
    refused = admin.run("vulndb", "import", str(large), expect=1)
    assert "HTTP 413" in refused.stderr and "vulndb_import_max_bytes" in refused.stderr


def test_missing_inputs_are_usage_errors(admin: Cli, tmp_path: Path) -> None:
    assert "no such file" in admin.run("vulndb", "import", str(tmp_path / "absent.zip"), expect=2).stderr
    (tmp_path / "empty").mkdir()
    assert "holds no *.json files" in admin.run("vulndb", "import", str(tmp_path / "empty"), expect=2).stderr
    unreachable = admin.run("vulndb", "import", "http://127.0.0.1:9/all.zip", expect=3)
    assert "cannot download" in unreachable.stderr


def test_a_user_who_is_not_an_admin_cannot_import(server: RunningRegistry, tmp_path: Path) -> None:
    name, password = create_user(server)
    user = Cli(server, tmp_path / "user-config")
    user.login(name, password)
    refused = user.run("vulndb", "import", str(DATA / "real" / "GO-2020-0001.json"), expect=1)
    assert "only a registry administrator" in refused.stderr and "HTTP 403" in refused.stderr
    assert json.loads(user.run("vulndb", "status", "--json").stdout)["records"] >= 0
