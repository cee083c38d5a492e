"""The final file system, as far as the inventory sees it: layer summaries stacked per the OCI rules.

image-spec `layer.md` ("Applying Changesets"), applied to the evidence each summary keeps:
- layers apply in manifest order, lowest first;
- a whiteout `DIR/.wh.NAME` deletes `DIR/NAME` and everything under it *in lower layers*; a file of
  the same layer is never deleted by it (a layer that deletes and re-creates a path shows the new one);
- an opaque whiteout `DIR/.wh..wh..opq` empties `DIR` of everything lower layers put there, keeping
  what its own layer puts there;
- a non-directory entry (a kept file, or a hidden one: symlink, executable, skipped file) replaces
  what lower layers had at its path *and below it* (a file or symlink over a directory hides the
  directory's contents, as `lib -> usr/lib` does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from moorage.scanning.inventory.summary import FileRecord, LayerSummary


@dataclass(frozen=True)
class FileEntry:
    """A piece of evidence in the final file system and the layer that wrote it."""

    record: FileRecord
    layer_digest: str


def _ancestors(path: str) -> Iterable[str]:
    """`a/b/c` -> `a/b`, `a` and the root `""`."""
    while path:
        path = path.rpartition("/")[0]
        yield path


def stack(layers: Sequence[tuple[str, LayerSummary]]) -> dict[str, FileEntry]:
    """The evidence of the final file system (path -> entry) from (layer digest, summary) pairs, lowest first."""
    files: dict[str, FileEntry] = {}
    for digest, summary in layers:
        replaced = {*summary.whiteouts, *summary.hidden, *summary.files}
        emptied = set(summary.opaque_dirs)
        if replaced or emptied:
            for path in list(files):
                ancestors = list(_ancestors(path))
                if (
                    path in replaced
                    or any(a in replaced for a in ancestors if a)
                    or any(a in emptied for a in ancestors)
                ):
                    del files[path]
        for path, record in summary.files.items():
            files[path] = FileEntry(record, digest)
    return files
