"""The vulnerability database: OSV records imported from files, matched against image inventories.

The entry module of the part: the scan job and the HTTP layer use these names only.
- `archive`: reading an OSV `all.zip` or JSON file, checking every record before anything is stored;
- `service`: `VulnerabilityDatabase` — import (incremental by `modified`, one transaction), match
  (through `scanning/matching.py` and `scanning/severity.py`), status;
- the tables are `metadata/vulndb_schema.py`, the queries `metadata/vulndb.py`.
"""

from moorage.metadata.vulndb import SourceRow as SourceStatus
from moorage.scanning.matching import Unmatchable
from moorage.scanning.vulndb.archive import InvalidArchive
from moorage.scanning.vulndb.service import (
    EMPTY,
    DatabaseStatus,
    ImportReport,
    InvalidSource,
    MatchResult,
    VulnerabilityDatabase,
)

__all__ = [
    "EMPTY",
    "DatabaseStatus",
    "ImportReport",
    "InvalidArchive",
    "InvalidSource",
    "MatchResult",
    "SourceStatus",
    "Unmatchable",
    "VulnerabilityDatabase",
]
