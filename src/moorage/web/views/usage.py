"""Storage usage of a namespace or a repository, with a chart over time.

The figures are the usage service's exact ones (from the blob links). The chart is derived from what
the registry already records, without a table of its own: the size of each image held now, added on
the day it was pushed, so the line shows how today's footprint built up (images deleted since are not
in it; the page says so). Decision and reasons: docs/web-ui.md, "Storage usage".
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from starlette.responses import Response

from moorage.domain.access import Action
from moorage.governance.errors import InvalidSettings
from moorage.web.chart import Point, step_chart
from moorage.web.pages import Page, PageError
from moorage.web.views.repositories import readable_repository

MAX_IMAGES_CHARTED = 20_000
"""The chart reads at most this many images (in pages of 1000); beyond, the page says it is partial."""
MAX_REPOSITORIES = 200


def _growth(page: Page, repositories: list[str]) -> tuple[list[Point], bool]:
    images = page.services.governance.images
    assert images is not None
    added: dict[date, int] = defaultdict(int)
    read, partial = 0, False
    for name in repositories:
        after = None
        while True:
            found, after = images.describe(name, None, False, after, 1000)
            for image in found:
                if image.parents:
                    continue  # counted with its index
                added[image.pushed_at.date()] += image.size
            read += len(found)
            if after is None:
                break
            if read >= MAX_IMAGES_CHARTED:
                partial = True
                break
        if partial:
            break
    total, points = 0, []
    for day in sorted(added):
        total += added[day]
        points.append(Point(day, total))
    return points, partial


def usage_page(page: Page) -> Response:
    governance = page.services.governance
    namespace = page.query("namespace").strip("/")
    repository = page.query("repository")
    if repository:
        readable_repository(page, repository)
        usage = governance.usage.repository(repository)
        names = [repository]
        scope = repository
    else:
        if not namespace:
            raise PageError(422, "Choose a namespace", "Open usage from a namespace or a repository.")
        if not page.viewer.may(f"{namespace}/*", Action.PULL):
            raise PageError(403, "Forbidden", f"Usage of a whole namespace needs read access to {namespace}/*.")
        try:
            usage = governance.usage.namespace(namespace)
            found, _ = governance.repositories.list(namespace, None, {}, None, MAX_REPOSITORIES)
        except InvalidSettings as error:
            raise PageError(422, "Invalid namespace", str(error)) from None
        names = [r.name for r in found]
        scope = f"{namespace}/*"
    points, partial = _growth(page, names)
    per_repository = [(name, governance.usage.repository(name)) for name in names] if not repository else []
    return page.render(
        "usage.html",
        title=f"Usage of {scope}",
        scope=scope,
        usage=usage,
        chart=step_chart(points, f"Storage of {scope} over time"),
        partial=partial,
        per_repository=per_repository,
    )
