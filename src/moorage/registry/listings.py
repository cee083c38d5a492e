"""Paginated listings: tags of a repository and the catalog of repositories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata import repositories, tags
from moorage.metadata.database import Database

MAX_PAGE = 10_000
_FILTER_BATCH = 500


@dataclass(frozen=True)
class Page:
    items: list[str]
    next_last: str | None
    """The `last` parameter of the next page, or None when this page is the end."""


class ListingService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def tags(self, repository: str, limit: int | None, last: str | None) -> Page:
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None:
                raise RegistryError(
                    ErrorCode.NAME_UNKNOWN, f"repository {repository!r} is unknown", {"name": repository}
                )
            return _page(lambda n: tags.list_names(connection, repository_id, last, n), limit)

    def catalog(self, limit: int | None, last: str | None, visible: Callable[[str], bool] | None = None) -> Page:
        """Repository names in lexical order; with `visible`, only those it accepts (authorization)."""
        with self.database.read() as connection:
            if visible is None:
                return _page(lambda n: repositories.list_names(connection, last, n), limit)
            return _page(lambda n: _visible_names(connection, last, n, visible), limit)


def _visible_names(
    connection: sa.Connection, last: str | None, wanted: int | None, visible: Callable[[str], bool]
) -> list[str]:
    """Names `visible` accepts, read in batches until `wanted` are found or the names run out."""
    names: list[str] = []
    cursor = last
    while wanted is None or len(names) < wanted:
        batch = repositories.list_names(connection, cursor, _FILTER_BATCH)
        names.extend(name for name in batch if visible(name))
        if len(batch) < _FILTER_BATCH:
            break
        cursor = batch[-1]
    return names if wanted is None else names[:wanted]


def _page(fetch: Callable[[int | None], list[str]], limit: int | None) -> Page:
    """Fetch one more than asked to learn whether another page follows."""
    size = min(limit, MAX_PAGE) if limit is not None else None
    items = fetch(None if size is None else size + 1)
    if size is not None and len(items) > size:
        return Page(items[:size], items[size - 1] if size else None)
    return Page(items, None)
