"""Paginated listings: tags of a repository and the catalog of repositories."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata import repositories, tags
from moorage.metadata.database import Database

MAX_PAGE = 10_000


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

    def catalog(self, limit: int | None, last: str | None) -> Page:
        with self.database.read() as connection:
            return _page(lambda n: repositories.list_names(connection, last, n), limit)


def _page(fetch: object, limit: int | None) -> Page:
    """Fetch one more than asked to learn whether another page follows."""
    assert callable(fetch)
    size = min(limit, MAX_PAGE) if limit is not None else None
    items: list[str] = fetch(None if size is None else size + 1)
    if size is not None and len(items) > size:
        return Page(items[:size], items[size - 1] if size else None)
    return Page(items, None)
