"""`moorage scan-gate` and `moorage gate`, run as a user would against a registry with authentication on."""

from __future__ import annotations

import json

from moorage.scanning.model import Severity
from tests.functional.cli_support import Cli, cli_fixture, secured_server_fixture  # noqa: F401  (fixtures)
from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, client_for, create_user, grant, unique_name
from tests.support.scan_gate import record_scan, vulnerability

GATE_FAILED = 5


def test_scan_gate_set_show_and_clear_on_a_namespace_and_a_repository(cli: Cli) -> None:
    cli.login()
    namespace = unique_name("sgcli")
    repository = f"{namespace}/app"
    cli.run("scan-gate", "set", "--namespace", namespace, "--max-severity", "high", "--require-scan")
    shown = cli.run("scan-gate", "show", "--repository", repository).stdout
    assert f"set on:        namespace {namespace}" in shown and "max severity:  HIGH" in shown
    assert "require scan:  yes" in shown
    allow = ("--allow", "CVE-2024-1:2027-01-31", "--allow", "GHSA-aaaa-bbbb-cccc", "--reason", "no fix upstream")
    cli.run("scan-gate", "set", "--repository", repository, "--max-severity", "CRITICAL", *allow)
    answer = json.loads(cli.run("scan-gate", "show", "--repository", repository, "--json").stdout)
    assert answer["source"] == "repository" and answer["policy"]["max_severity"] == "CRITICAL"
    assert answer["policy"]["allowlist"] == [
        {"id": "CVE-2024-1", "expires": "2027-01-31", "reason": "no fix upstream"},
        {"id": "GHSA-aaaa-bbbb-cccc", "expires": None, "reason": "no fix upstream"},
    ]
    table = cli.run("scan-gate", "show", "--repository", repository).stdout
    assert table.splitlines()[-3].split() == ["ID", "EXPIRES", "REASON"]
    cli.run("scan-gate", "clear", "--repository", repository)
    assert (
        json.loads(cli.run("scan-gate", "show", "--repository", repository, "--json").stdout)["source"] == "namespace"
    )
    cli.run("scan-gate", "clear", "--namespace", namespace)
    gone = cli.run("scan-gate", "show", "--repository", repository, expect=1)
    assert "no scan gate policy applies" in gone.stderr and "(HTTP 404)" in gone.stderr


def test_scan_gate_refuses_bad_input_with_usage_or_the_registrys_problem(cli: Cli) -> None:
    cli.login()
    namespace = unique_name("sgcli")
    both = cli.run("scan-gate", "show", "--repository", "a/b", "--namespace", "a", expect=2)
    assert "exactly one of --repository and --namespace" in both.stderr
    assert (
        "ID or ID:YYYY-MM-DD" in cli.run("scan-gate", "set", "-n", namespace, "--allow", "CVE-1:soon", expect=2).stderr
    )
    bad = cli.run("scan-gate", "set", "--namespace", namespace, "--max-severity", "SEVERE", expect=1)
    assert "max_severity must be one of" in bad.stderr


def test_gate_exits_zero_when_the_image_passes_and_five_with_a_summary_when_it_fails(cli: Cli) -> None:
    cli.login()
    namespace = unique_name("gatecli")
    repository = f"{namespace}/app"
    with client_for(cli.server, (ADMIN, ADMIN_PASSWORD)) as registry:
        digest = push_image(registry, repository, "1.0").digest
    record_scan(cli.server, digest, findings=[vulnerability("CVE-2024-42", Severity.HIGH)])
    image = f"{cli.server.host}/{repository}:1.0"

    failed = cli.run("gate", image, "--max-severity", "HIGH", expect=GATE_FAILED)
    assert failed.stdout.splitlines()[0] == f"FAIL {repository}@{digest}"
    assert "blocking: HIGH 1" in failed.stdout and "CVE-2024-42" in failed.stdout
    assert "policy:   given on the command line" in failed.stdout

    allowed = cli.run("gate", f"{repository}@{digest}", "--max-severity", "HIGH", "--allow", "CVE-2024-42")
    assert allowed.stdout.startswith("PASS") and "allowed:  CVE-2024-42" in allowed.stdout

    as_json = json.loads(cli.run("gate", image, "--max-severity", "LOW", "--json", expect=GATE_FAILED).stdout)
    assert as_json["allowed"] is False and as_json["blocked_ids"] == ["CVE-2024-42"] and as_json["digest"] == digest

    cli.run("scan-gate", "set", "--namespace", namespace, "--max-severity", "MEDIUM")
    in_force = cli.run("gate", f"{repository}:1.0", expect=GATE_FAILED)
    assert f"policy:   namespace policy of {namespace}" in in_force.stdout

    unknown = cli.run("gate", f"{repository}:nope", expect=1)
    assert "is not in this registry" in unknown.stderr
    elsewhere = cli.run("gate", f"registry.example.com/{repository}:1.0", expect=2)
    assert "is not in the registry at" in elsewhere.stderr


def test_a_reader_may_gate_but_not_set_a_policy_and_an_outsider_may_do_neither(cli: Cli) -> None:
    namespace = unique_name("gatecli")
    with client_for(cli.server, (ADMIN, ADMIN_PASSWORD)) as registry:
        push_image(registry, f"{namespace}/app", "1")
    reader = create_user(cli.server)
    grant(cli.server, "user", reader[0], f"{namespace}/*", "read")
    cli.login(*reader)
    assert "(HTTP 403)" in cli.run("scan-gate", "set", "-n", namespace, "--max-severity", "LOW", expect=1).stderr
    assert "none in force" in cli.run("gate", f"{namespace}/app:1").stdout  # no policy anywhere: passes
    cli.login(*create_user(cli.server))
    assert "(HTTP 403)" in cli.run("gate", f"{namespace}/app:1", "--max-severity", "HIGH", expect=1).stderr
