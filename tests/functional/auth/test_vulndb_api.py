"""/api/v1/vulnerability-database over HTTP with authentication on: admins import, others are refused, all audited."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx

from tests.support.auth import ADMIN, api, create_user
from tests.support.server import RunningRegistry

DATA = Path(__file__).resolve().parents[2] / "data" / "osv"
IMPORTS = "/vulnerability-database/imports"
PROBLEM = "application/problem+json"


def unique_record(**fields: Any) -> dict[str, Any]:
    """A made-up record of its own (the registry is shared by the session's tests)."""
    name = f"made-up-{uuid.uuid4().hex[:8]}"
    return {
        "id": f"MOORAGE-TEST-{uuid.uuid4().hex[:12]}",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.0"}]}],
            }
        ],
        **fields,
    }


def zipped(*members: dict[str, Any] | bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, member in enumerate(members):
            archive.writestr(f"{index}.json", member if isinstance(member, bytes) else json.dumps(member))
    return buffer.getvalue()


def real_records() -> bytes:
    paths = [path for path in sorted((DATA / "real").glob("*.json")) if path.name != "DSA-3029-1.json"]
    return zipped(*(path.read_bytes() for path in paths))


def import_as(client: httpx.Client, body: bytes, source: str, filename: str = "all.zip") -> httpx.Response:
    return client.post(IMPORTS, params={"source": source, "filename": filename}, content=body)


def status(server: RunningRegistry) -> dict[str, Any]:
    with api(server) as admin:
        response = admin.get("/vulnerability-database")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def audit_entries(server: RunningRegistry, source: str) -> list[dict[str, Any]]:
    with api(server) as admin:
        response = admin.get("/audit", params={"action": "vulndb.import", "limit": 1000})
    assert response.status_code == 200, response.text
    return [entry for entry in response.json()["entries"] if entry["target"] == source]


def test_an_admin_imports_an_all_zip_and_the_status_names_the_source(secured: RunningRegistry) -> None:
    source = f"ghsa-{uuid.uuid4().hex[:6]}"
    with api(secured) as admin:
        first = import_as(admin, real_records(), source)
        assert first.status_code == 200, first.text
        report = first.json()
        assert report["records_read"] == 4 and report["source"] == source and report["filename"] == "all.zip"
        again = import_as(admin, real_records(), source).json()
    assert (again["records_added"], again["records_updated"], again["records_skipped"]) == (0, 0, 4)
    shown = status(secured)
    assert shown["version"] == again["database_version"]
    [mine] = [entry for entry in shown["sources"] if entry["name"] == source]
    assert (mine["imports"], mine["filename"], mine["records_read"], mine["records_stored"]) == (2, "all.zip", 4, 0)
    assert {"Go", "Maven", "PyPI", "Ubuntu"} <= set(shown["ecosystems"])
    [success, *_] = audit_entries(secured, source)
    assert (success["outcome"], success["actor"]["name"], success["detail"]["records_read"]) == ("success", ADMIN, 4)


def test_a_new_record_changes_the_database_version(secured: RunningRegistry) -> None:
    with api(secured) as admin:
        before = import_as(admin, json.dumps(unique_record()).encode(), "changes", "one.json").json()
        after = import_as(admin, json.dumps(unique_record()).encode(), "changes", "one.json").json()
    assert before["records_added"] == after["records_added"] == 1
    assert before["database_version"] != after["database_version"] == status(secured)["version"]


def test_malformed_data_is_a_400_problem_and_nothing_is_imported(secured: RunningRegistry) -> None:
    source = f"broken-{uuid.uuid4().hex[:6]}"
    good = unique_record()
    records_before = status(secured)["records"]
    with api(secured) as admin:
        refused = import_as(admin, zipped(good, b"{ not json"), source)
        not_a_zip = import_as(admin, b"PK\x03\x04 but no zip", source)
        empty = import_as(admin, b"", source)
        no_modified = import_as(admin, (DATA / "real" / "DSA-3029-1.json").read_bytes(), source, "DSA-3029-1.json")
    for response in (refused, not_a_zip, empty, no_modified):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
    assert "not valid JSON" in refused.json()["detail"] and "`modified`" in no_modified.json()["detail"]
    shown = status(secured)
    assert shown["records"] == records_before and source not in {entry["name"] for entry in shown["sources"]}
    failures = audit_entries(secured, source)
    assert len(failures) == 3 and {entry["outcome"] for entry in failures} == {"failure"}


def test_a_bad_source_name_or_none_is_refused(secured: RunningRegistry) -> None:
    with api(secured) as admin:
        assert import_as(admin, json.dumps(unique_record()).encode(), "../../etc").status_code == 400
        missing = admin.post(IMPORTS, content=json.dumps(unique_record()).encode())
    assert missing.status_code == 422 and missing.headers["content-type"].startswith(PROBLEM)


def test_only_registry_admins_may_import(secured: RunningRegistry) -> None:
    body = json.dumps(unique_record()).encode()
    user = create_user(secured)
    with api(secured, user) as client:
        assert import_as(client, body, "sneaky").status_code == 403
        assert client.get("/vulnerability-database").status_code == 200  # reading the status is for anyone signed in
    with api(secured) as admin:
        token = admin.post(f"/users/{ADMIN}/tokens", json={"name": uuid.uuid4().hex[:8], "scopes": ["pull"]})
        assert token.status_code == 201, token.text
    leaked = (ADMIN, token.json()["token"])
    with api(secured, leaked) as client:
        refused = import_as(client, body, "sneaky")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(PROBLEM)
    with httpx.Client(base_url=f"{secured.url}/api/v1") as anonymous:
        assert import_as(anonymous, body, "sneaky").status_code == 401
        assert anonymous.get("/vulnerability-database").status_code == 401
    assert status(secured)["records"] >= 0 and not audit_entries(secured, "sneaky")
