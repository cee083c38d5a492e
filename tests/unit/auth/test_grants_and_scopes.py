"""Pure rules of access: repository patterns, scope grammar, action implications, combining grants and roles."""

from __future__ import annotations

import pytest

from moorage.auth.grants import (
    Grant,
    Principal,
    Role,
    allowed_actions,
    expand_actions,
    pattern_matches,
    validate_pattern,
)
from moorage.auth.scopes import InvalidScope, Scope, parse_scope, parse_scopes, requested_actions
from moorage.domain.access import ANONYMOUS, Action, Actor

PULL, PUSH, DELETE, ADMIN = Action.PULL, Action.PUSH, Action.DELETE, Action.ADMIN


@pytest.mark.parametrize(
    ("pattern", "repository", "expected"),
    [
        ("*", "anything/at/all", True),
        ("team/*", "team/app", True),
        ("team/*", "team/group/app", True),
        ("team/*", "teamx/app", False),
        ("team/*", "team", False),
        ("team/app", "team/app", True),
        ("team/app", "team/app2", False),
        ("team/app", "team/app/sub", False),
    ],
)
def test_patterns_cover_exact_names_namespaces_and_everything(pattern: str, repository: str, expected: bool) -> None:
    assert pattern_matches(pattern, repository) is expected


@pytest.mark.parametrize("pattern", ["", "te*m/app", "team/*/x", "*/app", "/*"])
def test_wildcards_only_as_the_whole_pattern_or_the_last_component(pattern: str) -> None:
    with pytest.raises(ValueError):
        validate_pattern(pattern)


def test_push_and_delete_imply_pull_and_admin_implies_everything() -> None:
    assert expand_actions(["push"]) == {PULL, PUSH}
    assert expand_actions(["delete"]) == {PULL, DELETE}
    assert expand_actions(["admin"]) == {PULL, PUSH, DELETE, ADMIN}
    assert Role.WRITE.actions == {PULL, PUSH} and Role.READ.actions == {PULL}


def test_scopes_parse_with_resource_classes_ports_and_several_per_parameter() -> None:
    assert parse_scope("repository(plugin):team/app:pull") == Scope("repository", "team/app", frozenset({"pull"}))
    assert parse_scope("repository:host:5000/app:pull,push").name == "host:5000/app"
    scopes = parse_scopes(["repository:a/b:pull repository:a/b:push", "registry:catalog:*"])
    assert scopes == [
        Scope("repository", "a/b", frozenset({"pull", "push"})),
        Scope("registry", "catalog", frozenset({"*"})),
    ]
    assert requested_actions(Scope("repository", "a/b", frozenset({"*"}))) == frozenset(Action)
    assert requested_actions(Scope("repository", "a/b", frozenset({"pull", "fly"}))) == {PULL}


@pytest.mark.parametrize("text", ["repository", "repository:name", ":name:pull", "repository::pull"])
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(InvalidScope):
        parse_scope(text)


class Roles:
    """A role table for the tests: alice may write team/*, anyone may read public/*."""

    def actions_for(self, actor: Actor, repository: str) -> frozenset[Action]:
        actions: set[Action] = set()
        if repository.startswith("public/"):
            actions.add(PULL)
        if actor.name == "alice" and repository.startswith("team/"):
            actions |= Role.WRITE.actions
        return frozenset(actions)


ALICE = Actor("user", "alice")


def test_users_get_their_roles_and_scoped_credentials_exactly_their_grants_plus_public() -> None:
    roles = Roles()
    assert allowed_actions(Principal(ALICE, None), "team/app", roles) == {PULL, PUSH}
    robot = Principal(Actor("robot", "team+ci"), (Grant("team/app", frozenset({PULL, PUSH})),))
    assert allowed_actions(robot, "team/app", roles) == {PULL, PUSH}
    assert allowed_actions(robot, "team/other", roles) == set()
    assert allowed_actions(robot, "public/base", roles) == {PULL}
    assert allowed_actions(Principal(ANONYMOUS, None), "team/app", roles) == set()


def test_an_access_token_is_bounded_by_its_owners_roles() -> None:
    token = Principal(Actor("token", "alice", "t1"), (Grant("*", frozenset(Action)),), bounded_by_roles=True)
    assert allowed_actions(token, "team/app", Roles()) == {PULL, PUSH}
    assert allowed_actions(token, "elsewhere/app", Roles()) == set()


@pytest.mark.parametrize(
    ("kind", "grants", "expected"),
    [
        ("user", None, True),  # a password, or a login password made from one
        ("token", (Grant("*", frozenset(Action)),), True),  # an access token with admin on everything
        ("token", (Grant("*", frozenset({PULL})),), False),
        ("token", (Grant("alice/*", frozenset(Action)),), False),  # admin of a namespace, not of the account
        ("robot", (Grant("*", frozenset(Action)),), False),
        ("oidc", (Grant("*", frozenset(Action)),), False),
        ("anonymous", None, False),
    ],
)
def test_only_full_rights_or_admin_on_everything_manage_an_account(
    kind: str, grants: tuple[Grant, ...] | None, expected: bool
) -> None:
    assert Principal(Actor(kind, "alice"), grants).manages_account() is expected
