"""The sample deployment (deploy/) stays true to the code: real settings, real endpoints, a non-root image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from moorage.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS = {f"MOORAGE_{name.upper()}" for name in Settings.model_fields}


def kubernetes_documents() -> list[dict[str, Any]]:
    return [
        document for document in yaml.safe_load_all((DEPLOY / "kubernetes" / "moorage.yaml").read_text()) if document
    ]


def variables_in(value: Any) -> set[str]:
    return set(re.findall(r"\bMOORAGE_[A-Z0-9_]+\b", yaml.safe_dump(value)))


def test_every_variable_the_samples_set_is_a_real_setting() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    used = variables_in(compose) | set().union(*(variables_in(document) for document in kubernetes_documents()))
    used |= set(re.findall(r"\bMOORAGE_[A-Z0-9_]+\b", (DEPLOY / "Containerfile").read_text()))
    assert used, "the samples configure moorage through MOORAGE_* variables"
    assert used <= SETTINGS, f"not settings: {sorted(used - SETTINGS)}"


def test_kubernetes_nodes_probe_real_endpoints_run_as_non_root_and_migrate_in_a_job() -> None:
    kinds = {document["kind"]: document for document in kubernetes_documents()}
    workers = [
        d for d in kubernetes_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "moorage-worker"
    ]
    assert workers and workers[0]["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    kinds["Deployment"] = next(
        d for d in kubernetes_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "moorage"
    )
    assert {"Deployment", "Service", "PodDisruptionBudget", "Job", "ConfigMap"} <= set(kinds)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert kinds["Job"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert kinds["ConfigMap"]["data"]["MOORAGE_MIGRATE_ON_START"] == "false"
    assert {"name": "MOORAGE_BACKGROUND_WORK", "value": "false"} in container["env"], "nodes leave work to workers"
    secrets = {item["name"] for item in container["env"] if "valueFrom" in item}
    assert {"MOORAGE_SECRET_KEY", "MOORAGE_DATABASE_URL"} <= secrets, (
        "one shared secret key; no secret in the ConfigMap"
    )
    assert not variables_in(kinds["ConfigMap"]["data"]) & {"MOORAGE_SECRET_KEY", "MOORAGE_S3_SECRET_ACCESS_KEY"}


def test_the_image_runs_as_a_non_root_user_without_a_shell() -> None:
    containerfile = (DEPLOY / "Containerfile").read_text()
    final_stage = containerfile.rsplit("\nFROM ", 1)[1]
    assert "distroless" in final_stage.splitlines()[0]
    assert re.search(r"^USER 65532", final_stage, re.MULTILINE)
    assert '"python3", "-m", "moorage"' in final_stage


def test_the_balancer_checks_readiness() -> None:
    assert "option httpchk GET /readyz" in (DEPLOY / "haproxy.cfg").read_text()
