"""Fixtures shared by unit tests of several packages."""

from tests.support.migrations import empty_database_url  # noqa: F401 - a fixture, found by pytest here
