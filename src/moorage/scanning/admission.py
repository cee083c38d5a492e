"""A Kubernetes validating admission webhook for the scan gate: read an `AdmissionReview`, judge its images.

The API server sends an `admission.k8s.io/v1` `AdmissionReview` whose `request.object` is the
workload being created or updated. The pod spec is found where each kind keeps it:

| kind | pod spec at |
|---|---|
| Pod | `spec` |
| Deployment, StatefulSet, DaemonSet, ReplicaSet, Job | `spec.template.spec` |
| CronJob | `spec.jobTemplate.spec.template.spec` |

Every image of its `initContainers`, `containers` and `ephemeralContainers` is judged:
- an image whose host is one of this registry's names (`scan_gate_registry_hosts`, plus the host of
  `external_url`: nodes pull by the registry's external name) is resolved to a digest in its
  repository (a digest in the reference wins over its tag, as the runtime pulls it) and judged by
  the policy in force for the repository; a refusal names the image, the policy and the findings;
- an image of another registry (a host that is not ours, or none: Docker Hub) follows
  `scan_gate_admission_foreign_images` (`allow` or `deny`);
- an image of ours that does not resolve (a tag never pushed, a bad reference), or whose repository
  the webhook's credential may not pull, is denied with the reason: the node could not pull it
  either, and admitting what cannot be judged would open the gate.

Other kinds, and operations other than CREATE and UPDATE, are allowed: they start no container.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_name
from moorage.scanning.gate_service import ScanGate, UnknownImage

API_VERSION = "admission.k8s.io/v1"
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
JUDGED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
MAX_IMAGES = 200
"""More containers than any pod has; a review naming more is refused as malformed, not judged slowly."""

ForeignImages = Literal["allow", "deny"]


class InvalidReview(ValueError):
    """The body is not an `admission.k8s.io/v1` AdmissionReview request (the HTTP layer answers 400)."""


@dataclass(frozen=True)
class ContainerImage:
    container: str
    """`containers[app]`, `initContainers[migrate]`."""
    image: str


@dataclass(frozen=True)
class ReviewRequest:
    uid: str
    kind: str
    operation: str
    namespace: str | None
    name: str | None
    images: tuple[ContainerImage, ...]


@dataclass(frozen=True)
class ImageReference:
    host: str | None
    """The registry host as written (None: no host, i.e. Docker Hub)."""
    repository: str
    tag: str | None
    digest: str | None


@dataclass(frozen=True)
class ReviewDecision:
    allowed: bool
    message: str

    def response(self, uid: str) -> dict[str, Any]:
        """The `AdmissionReview` answer the API server expects, echoing the request's uid."""
        status: dict[str, Any] = {"code": 200 if self.allowed else 403, "message": self.message}
        if not self.allowed:
            status["reason"] = "Forbidden"
        body = {"uid": uid, "allowed": self.allowed, "status": status}
        return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": body}


def read_review(document: object) -> ReviewRequest:
    """The parts of an AdmissionReview the gate needs, or InvalidReview saying what is wrong."""
    if not isinstance(document, Mapping):
        raise InvalidReview("the body must be a JSON AdmissionReview object")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != "AdmissionReview":
        raise InvalidReview(f"expected apiVersion {API_VERSION} and kind AdmissionReview")
    request = document.get("request")
    if not isinstance(request, Mapping):
        raise InvalidReview("the AdmissionReview has no request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid or len(uid) > 128:
        raise InvalidReview("request.uid must be a non-empty string")
    kind = request.get("kind")
    kind_name = kind.get("kind") if isinstance(kind, Mapping) else None
    operation = request.get("operation")
    if not isinstance(kind_name, str) or not isinstance(operation, str):
        raise InvalidReview("request.kind.kind and request.operation must be strings")
    namespace, name = request.get("namespace"), request.get("name")
    images: tuple[ContainerImage, ...] = ()
    if operation in JUDGED_OPERATIONS and kind_name in POD_SPEC_PATHS:
        images = _images(request.get("object"), POD_SPEC_PATHS[kind_name], kind_name)
    return ReviewRequest(
        uid,
        kind_name,
        operation,
        namespace if isinstance(namespace, str) else None,
        name if isinstance(name, str) else None,
        images,
    )


def _images(workload: object, path: tuple[str, ...], kind: str) -> tuple[ContainerImage, ...]:
    if not isinstance(workload, Mapping):
        raise InvalidReview(f"request.object must be the {kind} being admitted")
    spec: object = workload
    for key in path:
        spec = spec.get(key) if isinstance(spec, Mapping) else None
    if not isinstance(spec, Mapping):
        raise InvalidReview(f"a {kind} has its pod spec at {'.'.join(path)}")
    found = []
    for field in CONTAINER_LISTS:
        containers = spec.get(field) or []
        if not isinstance(containers, list):
            raise InvalidReview(f"{'.'.join(path)}.{field} must be a list")
        for position, container in enumerate(containers):
            image = container.get("image") if isinstance(container, Mapping) else None
            if not isinstance(image, str) or not image or len(image) > 1024:
                raise InvalidReview(f"{'.'.join(path)}.{field}[{position}].image must be an image reference")
            label = container.get("name") if isinstance(container.get("name"), str) else position
            found.append(ContainerImage(f"{field}[{label}]", image))
    if len(found) > MAX_IMAGES:
        raise InvalidReview(f"more than {MAX_IMAGES} containers")
    return tuple(found)


def parse_image(text: str) -> ImageReference:
    """Split an image reference as container runtimes do: a first component with `.` or `:`, or
    `localhost`, is a registry host; `name:tag@digest` keeps both."""
    rest, digest = text, None
    if "@" in text:
        rest, digest = text.split("@", 1)
    first, slash, remainder = rest.partition("/")
    host = None
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, remainder
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
    return ImageReference(host, rest, tag, digest)


class AdmissionReviewer:
    """Judges the images of an admission request by the scan gate (the rules in the module docstring)."""

    def __init__(self, gate: ScanGate, registry_hosts: Iterable[str], foreign_images: ForeignImages) -> None:
        self.gate = gate
        self.registry_hosts = frozenset(host.lower() for host in registry_hosts if host)
        self.foreign_images = foreign_images

    def review(self, request: ReviewRequest, may_pull: Callable[[str], bool]) -> ReviewDecision:
        """Allow the request when every image passes; else deny naming each image that does not and why."""
        if not request.images:
            return ReviewDecision(True, f"{request.operation} {request.kind}: no container images to judge")
        refusals: list[str] = []
        for image in dict.fromkeys(request.images):
            reason = self._refusal(image, may_pull)
            if reason is not None:
                refusals.append(f"image {image.image} ({image.container}) {reason}")
        if refusals:
            return ReviewDecision(False, "; ".join(refusals))
        count = len({image.image for image in request.images})
        return ReviewDecision(True, f"{count} image(s) pass the scan gate")

    def _refusal(self, image: ContainerImage, may_pull: Callable[[str], bool]) -> str | None:
        reference = parse_image(image.image)
        if reference.host is None or reference.host.lower() not in self.registry_hosts:
            if self.foreign_images == "deny":
                return "is not from this registry, and images of other registries are denied"
            return None
        try:
            repository = validate_name(reference.repository)
        except RegistryError as error:
            return f"cannot be resolved: {error.message}"
        if not may_pull(repository):
            return f"cannot be resolved: the webhook's credential may not pull {repository}"
        try:
            verdict = self.gate.judge_reference(repository, reference.digest or reference.tag or "latest")
        except UnknownImage:
            return f"cannot be resolved: {reference.digest or reference.tag or 'latest'} is not in {repository}"
        except RegistryError as error:
            return f"cannot be resolved: {error.message}"
        if verdict.allowed:
            return None
        policy, reason = verdict.policy.label, verdict.decision.reason
        return f"resolves to {verdict.digest}, refused by the scan gate ({policy}): {reason}"
