"""The repository list (namespaces, search, filters) and a repository's page (its images and tags).

Both pages are keyset-paginated through the listing services (`RepositoryService.list`,
`ImageService.describe`), so the first page of a repository with 10,000 tags costs one page of
rows, not 10,000 (`benchmarks/web_ui.py` measures it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from moorage.domain.access import Action
from moorage.governance.errors import InvalidSettings
from moorage.governance.images import ImageDetail
from moorage.web.pages import Page, PageError, not_found

REPOSITORIES_PER_PAGE = 25
FILTERED_READS = 40
"""Pages of repositories one listing reads at most to fill a filtered page (1,000 names)."""
IMAGES_PER_PAGE = 50
IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
"""Config media types of container images: stored as an image's artifact type, but not worth a badge."""
REFERRER_DEPTH = 2
"""Signatures of an SBOM are shown (two levels); deeper chains are one click away on the image page."""


@dataclass
class Referrer:
    digest: str
    artifact_type: str
    size: int
    children: list[Referrer] = field(default_factory=list)


def readable_repository(page: Page, name: str) -> None:
    """404 unless the viewer may pull from the repository: a private repository's existence is not told."""
    if not page.viewer.may(name, Action.PULL):
        raise not_found("This repository")


def referrers_of(
    page: Page, repository: str, digests: list[str], depth: int = REFERRER_DEPTH
) -> dict[str, list[Referrer]]:
    """Signatures, SBOMs and attestations whose subject is each of `digests`, as trees (one query per level)."""
    found = page.services.manifests.referrer_tree(repository, digests, depth)

    def tree(digest: str, level: int) -> list[Referrer]:
        if level >= depth:
            return []
        return [
            Referrer(r.digest, r.artifact_type or r.media_type, r.size, tree(r.digest, level + 1))
            for r in found.get(digest, [])
        ]

    return {digest: tree(digest, 0) for digest in digests}


def repository_list(page: Page) -> Response:
    governance = page.services.governance
    namespace = page.query("namespace").strip("/")
    visibility = page.query("visibility") or None
    if visibility not in (None, "public", "private"):
        raise PageError(422, "Invalid filter", "visibility is public or private")
    label = page.query("label")
    labels: dict[str, str] = {}
    if label:
        key, separator, value = label.partition("=")
        if not separator or not key:
            raise PageError(422, "Invalid filter", "a label filter is key=value")
        labels[key] = value
    after = page.query("after") or None
    found: list[Any] = []
    cursor = after
    try:
        # Labels and permissions filter each page the service reads: read on until a page is full (or a
        # bounded number of reads), so a filter never shows an empty page with a "Next page" link.
        for _ in range(FILTERED_READS):
            batch, cursor = governance.repositories.list(
                namespace or None, visibility, labels, cursor, REPOSITORIES_PER_PAGE
            )
            found += [repository for repository in batch if page.viewer.may(repository.name, Action.PULL)]
            if cursor is None or len(found) >= REPOSITORIES_PER_PAGE:
                break
    except InvalidSettings:
        found, cursor = [], None
    if len(found) > REPOSITORIES_PER_PAGE:
        found, cursor = found[:REPOSITORIES_PER_PAGE], found[REPOSITORIES_PER_PAGE - 1].name
    rows = []
    for repository in found:
        # The newest image's size and push, like Docker Hub's list: exact storage of a repository reads every
        # blob link (about a second at 10,000 images), so it is on the usage page, one click away.
        newest: list[ImageDetail] = []
        if repository.image_count:
            assert governance.images is not None
            newest, _ = governance.images.describe(repository.name, None, True, None, 1)
        rows.append({"repository": repository, "last_push": newest[0] if newest else None})
    names = [repository.name for repository in found]
    namespaces = sorted({name.split("/", 1)[0] for name in names if "/" in name})
    filters = {"namespace": namespace, "visibility": visibility or "", "label": label}
    next_link = None
    if cursor is not None:
        next_link = "/repositories?" + urlencode({**{k: v for k, v in filters.items() if v}, "after": cursor})
    return page.render(
        "repositories.html",
        title="Repositories",
        rows=rows,
        namespaces=namespaces,
        filters=filters,
        next_link=next_link,
    )


def _pull_commands(host: str, repository: str, image: ImageDetail) -> list[str]:
    commands = [f"podman pull {host}/{repository}:{tag}" for tag in image.tags[:3]]
    commands.append(f"podman pull {host}/{repository}@{image.digest}")
    return commands


def repository_page(page: Page) -> Response:
    name = page.param("name")
    readable_repository(page, name)
    governance = page.services.governance
    assert governance.images is not None
    repository = governance.repositories.describe(name)
    show = page.query("show", "tagged")
    tagged = {"tagged": True, "untagged": False}.get(show)
    after_text = page.query("after")
    after = int(after_text) if after_text.isdigit() and len(after_text) < 12 else None
    images, cursor = governance.images.describe(name, tagged, True, after, IMAGES_PER_PAGE)
    host = page.ui.registry_host(page.request)
    trees = referrers_of(page, name, [image.digest for image in images])
    rows = [
        {
            "image": image,
            "artifact_type": image.artifact_type if image.artifact_type not in IMAGE_CONFIGS else None,
            "pull": _pull_commands(host, name, image),
            "referrers": trees[image.digest],
        }
        for image in images
    ]
    next_link = None
    if cursor is not None:
        next_link = f"/repositories/{name}?" + urlencode({"show": show, "after": cursor})
    return page.render(
        "repository.html",
        title=name,
        repository=repository,
        rows=rows,
        show=show,
        next_link=next_link,
        may_admin=page.viewer.may(name, Action.ADMIN),
    )
