"""Templates and the small formatting helpers they use (sizes, times, short digests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_size(size: int | None) -> str:
    """Decimal units, as registries and `podman images` show sizes."""
    if size is None:
        return "—"
    value = float(size)
    for unit in UNITS:
        if value < 1000 or unit == UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover - the loop always returns


def when(moment: datetime | None) -> str:
    """A time as people read it in a table (UTC, to the second; the `title` attribute has RFC 3339)."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def short_digest(digest: str | None) -> str:
    """`sha256:0123456789ab`: enough to tell images apart on screen; the full digest is one click away."""
    if not digest:
        return "—"
    algorithm, _, hexadecimal = digest.partition(":")
    return f"{algorithm}:{hexadecimal[:12]}"


def environment() -> Environment:
    """The templates; jinja2 is imported here, when the UI serves its first page (`pages.WebUI`)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("moorage.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.filters["short"] = short_digest
    return env


def render(env: Environment, template: str, values: dict[str, Any]) -> str:
    return env.get_template(template).render(**values)
