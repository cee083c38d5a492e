"""Checked records waiting to be written: a temporary file, so an import holds no write lock while it parses.

Parsing and checking an `all.zip` is most of an import's work (tens of thousands of JSON
documents). Doing it inside the write transaction would hold SQLite's one write lock for that long
and make pushes wait; keeping the records in memory would cost hundreds of megabytes. So an import
checks everything first and stages what it will write here (`marshal`: a flat, fast encoding of
strings and tuples), then writes the staged records in one short transaction.
"""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType

from moorage.metadata.vulndb import StoredRecord


class StagedRecords:
    """An append-only spool of batches of `StoredRecord`s, read back in the order they were added."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.TemporaryFile(dir=directory, prefix="vulndb-staged-")  # noqa: SIM115 - closed by close()
        self.count = 0
        self._batches = 0

    def __enter__(self) -> StagedRecords:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def add(self, records: list[StoredRecord]) -> None:
        """Stage a batch (one `marshal` call per batch: per-record calls cost more than the encoding)."""
        if not records:
            return
        rows = [(r.id, r.modified.isoformat(), r.withdrawn, r.document, r.packages) for r in records]
        marshal.dump(rows, self._file)
        self.count += len(records)
        self._batches += 1

    def batches(self) -> Iterator[list[StoredRecord]]:
        """The staged batches, in the order they were added."""
        self._file.seek(0)
        for _ in range(self._batches):
            rows = marshal.load(self._file)
            yield [
                StoredRecord(record_id, datetime.fromisoformat(modified), withdrawn, document, packages)
                for record_id, modified, withdrawn, document, packages in rows
            ]
