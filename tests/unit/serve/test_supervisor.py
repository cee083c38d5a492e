"""The long-lived process of `moorage serve` is slim: granian forks its workers from it, so whatever it
imports is resident in it and again in every worker (docs/benchmarks.md, peak RSS). It reads the few
settings it needs from what `moorage serve` resolved, without the settings model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from moorage.config import Settings
from moorage.handover import RESOLVED_SETTINGS_VARIABLE
from moorage.supervisor import ServingSettings

OURS = ("moorage.config", "moorage.app", "moorage.cli", "moorage.serve")
HEAVY = ("typer", "click", "rich", "httpx", "pydantic", "sqlalchemy", "jinja2", "prometheus_client", "alembic")
"""The command line's libraries, the settings model's, the application's; prometheus_client must
also wait until the metrics directory is set (tests/unit/serve/test_metrics_mode.py)."""


def test_the_supervisor_and_granian_import_no_command_line_settings_model_or_application() -> None:
    probe = (
        "import sys, moorage.supervisor, granian.server, granian.constants, granian.log\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted({name.split('.')[0] for name in sys.modules} & set(heavy))\n"
        f"ours = sorted(set(sys.modules) & set({OURS!r}))\n"
        "print(loaded + ours)\n"
        "sys.exit(1 if loaded or ours else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"imported by the supervisor: {result.stdout}{result.stderr[-2000:]}"


def test_serving_settings_are_the_settings_moorage_serve_resolved(tmp_path: Path) -> None:
    settings = Settings(
        host="0.0.0.0",
        port=8443,
        server="uvicorn",
        workers=3,
        shutdown_timeout_seconds=7,
        log_format="text",
        log_level="debug",
        access_log=False,
        tls_cert_file=tmp_path / "cert.pem",
        tls_key_file=tmp_path / "key.pem",
        auth_enabled=True,
    )
    serving = ServingSettings.from_resolved(settings.model_dump(mode="json"))
    for name in ServingSettings.__dataclass_fields__:
        assert getattr(serving, name) == getattr(settings, name), name


def test_tls_files_left_unset_stay_unset() -> None:
    serving = ServingSettings.from_resolved(Settings().model_dump(mode="json"))
    assert serving.tls_cert_file is None and serving.tls_key_file is None


def test_the_supervisor_started_by_hand_says_who_starts_it() -> None:
    environment = {key: value for key, value in os.environ.items() if key != RESOLVED_SETTINGS_VARIABLE}
    result = subprocess.run(
        [sys.executable, "-m", "moorage.supervisor"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "started by `moorage serve`" in result.stderr
