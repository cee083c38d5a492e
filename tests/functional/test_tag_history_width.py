"""`moorage tag history` fits a 100-column terminal: short digests by default, whole ones on request."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.functional.cli_support import Cli, cli_fixture, secured_server_fixture  # noqa: F401 - fixtures
from tests.functional.helpers import push_image
from tests.support.auth import api, client_for, create_user, grant


@pytest.fixture
def moved_tag(cli: Cli) -> tuple[str, list[str]]:
    """A tag created and moved twice by a user with a long name; its repository and the digests."""
    user = create_user(cli.server, name="release-automation-" + uuid.uuid4().hex)
    grant(cli.server, "user", user[0], f"{user[0]}/*", "admin")
    repository = f"{user[0]}/service"
    with client_for(cli.server, user) as client:
        digests = [push_image(client, repository, tag="prod").digest for _ in range(3)]
    cli.login(*user)
    return repository, digests


def test_the_history_table_fits_100_columns_with_short_digests_and_full_ones_on_request(
    cli: Cli, moved_tag: tuple[str, list[str]]
) -> None:
    repository, digests = moved_tag
    output = cli.run("tag", "history", f"{repository}:prod", COLUMNS="100").stdout
    lines = output.splitlines()
    assert len(lines) == 4 and lines[0].split() == ["AT", "ACTION", "OLD", "NEW", "ACTOR", "ADDRESS"]
    assert max(len(line) for line in lines) <= 100, output
    for digest in digests:
        assert digest[:19] in output and digest not in output
    assert "release-automati" in output and "…" in output  # the long name is cut, not the digests
    full = cli.run("tag", "history", f"{repository}:prod", "--full-digests", COLUMNS="100").stdout
    assert all(digest in full for digest in digests)
    events = json.loads(cli.run("tag", "history", f"{repository}:prod", "--json", COLUMNS="100").stdout)
    assert [event["new_digest"] for event in events][-1] in digests
    assert all(len(event["new_digest"]) == 71 for event in events)


def test_a_user_who_may_not_read_the_repository_sees_no_history(cli: Cli, moved_tag: tuple[str, list[str]]) -> None:
    repository, _ = moved_tag
    outsider = create_user(cli.server)
    cli.login(*outsider)
    result = cli.run("tag", "history", f"{repository}:prod", expect=None, COLUMNS="100")
    assert result.returncode != 0 and "sha256:" not in result.stdout
    with api(cli.server) as admin:  # the admin still sees it: the refusal was about the outsider
        assert admin.get(f"/repositories/{repository}/-/tags/prod/history").status_code == 200
