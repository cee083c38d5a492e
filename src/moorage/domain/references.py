"""Repository names and tags, checked against the distribution-spec grammar.

A name that passes `validate_name` contains only `[a-z0-9._/-]` with no empty or dot-only
components, so it can never escape a directory when used in a path.
"""

from __future__ import annotations

import re

from moorage.domain.errors import ErrorCode, RegistryError

NAME_PATTERN = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
TAG_PATTERN = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
MAX_NAME_LENGTH = 255


def validate_name(name: str) -> str:
    """Return the name if it is a valid repository name, else raise NAME_INVALID."""
    if len(name) > MAX_NAME_LENGTH:
        raise RegistryError(ErrorCode.NAME_INVALID, f"repository name longer than {MAX_NAME_LENGTH} characters")
    if not NAME_PATTERN.match(name):
        raise RegistryError(ErrorCode.NAME_INVALID, f"invalid repository name {name!r}", detail={"name": name})
    return name


def validate_tag(tag: str) -> str:
    """Return the tag if it matches the spec's tag grammar, else raise MANIFEST_INVALID."""
    if not TAG_PATTERN.match(tag):
        raise RegistryError(
            ErrorCode.MANIFEST_INVALID, f"invalid tag {tag!r}: tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}"
        )
    return tag
