"""Reading AdmissionReview requests and image references, as the admission webhook does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moorage.domain.access import AllowAll
from moorage.governance.audit import AuditLog
from moorage.metadata.database import Database
from moorage.registry.manifests import ManifestService
from moorage.scanning.admission import (
    AdmissionReviewer,
    ContainerImage,
    ImageReference,
    InvalidReview,
    ReviewDecision,
    parse_image,
    read_review,
)
from moorage.scanning.gate_policies import GatePolicies
from moorage.scanning.gate_service import ScanGate

A64, B64 = "sha256:" + "a" * 64, "sha256:" + "b" * 64
DATA = Path(__file__).resolve().parents[2] / "data" / "admission"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())  # type: ignore[no-any-return]


def test_a_pod_lists_its_init_containers_then_containers() -> None:
    request = read_review(recorded("pod-allowed.json"))
    assert (request.uid, request.kind, request.operation) == ("0f6a5c1e-8c3b-4a55-9d0e-3f1b2f6a9a01", "Pod", "CREATE")
    assert request.namespace == "shop" and request.name == "web"
    assert request.images == (
        ContainerImage("initContainers[wait]", "docker.io/library/busybox:1.36"),
        ContainerImage("containers[web]", "registry.example.com/admission/clean:1.0"),
        ContainerImage("containers[sidecar]", "registry.example.com/admission/clean@DIGEST_OF_CLEAN"),
    )


@pytest.mark.parametrize(
    ("name", "kind", "containers"),
    [
        ("pod-denied.json", "Pod", ["containers[api]", "containers[proxy]", "ephemeralContainers[debugger]"]),
        ("deployment.json", "Deployment", ["initContainers[migrate]", "containers[checkout]"]),
        ("cronjob.json", "CronJob", ["containers[report]"]),
        ("foreign.json", "StatefulSet", ["containers[redis]", "containers[exporter]", "containers[local-dev]"]),
        ("unknown-tag.json", "Job", ["containers[once]"]),
    ],
)
def test_each_workload_kind_has_its_pod_spec_where_kubernetes_keeps_it(
    name: str, kind: str, containers: list[str]
) -> None:
    request = read_review(recorded(name))
    assert request.kind == kind and [image.container for image in request.images] == containers


def test_the_old_object_of_an_update_is_not_judged() -> None:
    images = [image.image for image in read_review(recorded("deployment.json")).images]
    assert images == ["registry.example.com/admission/clean:1.0", "registry.example.com/admission/vulnerable:1.0"]


def test_a_delete_or_another_kind_has_no_images_to_judge() -> None:
    review = recorded("pod-denied.json")
    review["request"]["operation"] = "DELETE"
    review["request"]["object"] = None
    assert read_review(review).images == ()
    service = recorded("pod-denied.json")
    service["request"]["kind"]["kind"] = "Service"
    assert read_review(service).images == ()


def _broken(change: str) -> object:
    review = recorded("pod-denied.json")
    request = review["request"]
    if change == "not an object":
        return [review]
    if change == "v1beta1":
        return recorded("malformed.json")
    if change == "no request":
        del review["request"]
    elif change == "no uid":
        del request["uid"]
    elif change == "no object":
        request["object"] = None
    elif change == "containers not a list":
        request["object"]["spec"]["containers"] = {"name": "api"}
    elif change == "image missing":
        del request["object"]["spec"]["containers"][0]["image"]
    elif change == "no spec":
        del request["object"]["spec"]
    return review


@pytest.mark.parametrize(
    "change",
    [
        "not an object",
        "v1beta1",
        "no request",
        "no uid",
        "no object",
        "containers not a list",
        "image missing",
        "no spec",
    ],
)
def test_a_malformed_review_is_refused_saying_what_is_wrong(change: str) -> None:
    with pytest.raises(InvalidReview):
        read_review(_broken(change))


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("redis:7.2", ImageReference(None, "redis", "7.2", None)),
        ("library/redis", ImageReference(None, "library/redis", None, None)),
        ("docker.io/library/busybox:1.36", ImageReference("docker.io", "library/busybox", "1.36", None)),
        ("localhost:5000/team/app:1", ImageReference("localhost:5000", "team/app", "1", None)),
        ("localhost/app", ImageReference("localhost", "app", None, None)),
        ("r.example.com/a/b@sha256:" + "a" * 64, ImageReference("r.example.com", "a/b", None, "sha256:" + "a" * 64)),
        (
            "r.example.com:443/a:1@sha256:" + "b" * 64,
            ImageReference("r.example.com:443", "a", "1", "sha256:" + "b" * 64),
        ),
    ],
)
def test_image_references_split_as_container_runtimes_split_them(text: str, reference: ImageReference) -> None:
    assert parse_image(text) == reference


def test_the_answer_echoes_the_uid_and_says_forbidden_when_denied() -> None:
    denied = ReviewDecision(False, "image x refused").response("abc")
    assert denied == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "abc",
            "allowed": False,
            "status": {"code": 403, "message": "image x refused", "reason": "Forbidden"},
        },
    }
    assert ReviewDecision(True, "ok").response("abc")["response"]["status"] == {"code": 200, "message": "ok"}


def test_foreign_images_follow_the_setting(tmp_path: Path) -> None:
    """Foreign images are decided before anything is read: the gate's store is never touched here."""
    database = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    gate = ScanGate(ManifestService(database), GatePolicies(database, AuditLog(database, AllowAll())), reports=None)  # type: ignore[arg-type]
    request = read_review(recorded("foreign.json"))
    allowing = AdmissionReviewer(gate, ["registry.example.com"], "allow").review(request, lambda _: True)
    assert allowing.allowed and allowing.message == "3 image(s) pass the scan gate"
    denying = AdmissionReviewer(gate, ["registry.example.com"], "deny").review(request, lambda _: True)
    assert not denying.allowed
    assert denying.message.count("is not from this registry") == 3
    assert "image redis:7.2 (containers[redis])" in denying.message
    assert "image localhost:5000/admission/vulnerable:1.0 (containers[local-dev])" in denying.message
    assert not (tmp_path / "unused.db").exists() or (tmp_path / "unused.db").stat().st_size == 0
    database.dispose()
