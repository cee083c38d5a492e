"""An HTTP worker imports what pushes and pulls need, and the rest when it is first used: what every
worker imports at start is resident in every worker for good (docs/benchmarks.md, peak RSS).

- the scanner's `univers` and `cyclonedx-python-lib` (about 20 MB together): when versions are
  compared or an SBOM is made;
- `alembic` (about 11 MB): in the processes that migrate or check the schema, never in a worker;
- `jinja2`: when the web UI serves its first page;
- `uvicorn` (its package imports its command line: click, watchfiles): behind a trusted proxy only.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from moorage.metadata.database import Database


@pytest.fixture(scope="module")
def packages_imported_by_building_the_app(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The top-level packages a fresh process holds once it has built the app, as a worker does."""
    directory = tmp_path_factory.mktemp("data")
    Database(f"sqlite:///{directory}/metadata.db").migrate()  # here, as `moorage serve`'s start-up child does
    probe = (
        "import json, sys\n"
        "from moorage.app import build\n"
        "from moorage.config import Settings\n"
        f"build(Settings(data_dir={str(directory)!r}, auth_enabled=False))\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout))


def test_building_the_app_imports_no_scanning_library(packages_imported_by_building_the_app: set[str]) -> None:
    assert packages_imported_by_building_the_app & {"univers", "cyclonedx"} == set()


def test_building_the_app_imports_no_migrations_templates_or_uvicorn(
    packages_imported_by_building_the_app: set[str],
) -> None:
    assert packages_imported_by_building_the_app & {"alembic", "jinja2", "uvicorn"} == set()


def test_the_web_ui_makes_its_templates_once_when_first_asked() -> None:
    from moorage.web.pages import WebUI
    from moorage.web.render import environment

    made = []

    def counted() -> object:
        made.append(environment())
        return made[-1]

    ui = WebUI(services=None, templates=counted)  # type: ignore[arg-type]
    assert made == []
    first = ui.templates
    assert ui.templates is first and len(made) == 1
    assert first.get_template("login.html").name == "login.html"
