"""A small server-rendered SVG chart: a step line of bytes over days, with labelled axes.

Rendered as markup (presentation attributes, no inline style or script), so it passes the strict
Content-Security-Policy and needs no JavaScript or chart library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from moorage.web.render import human_size

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 10, 30


@dataclass(frozen=True)
class Point:
    day: date
    value: int


def step_chart(points: list[Point], label: str) -> Markup:
    """An SVG step line of `points` (sorted by day); an empty chart says there is nothing yet."""
    title = f"<title>{escape(label)}</title>"
    if not points:
        return Markup(
            f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">{title}'
            f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle">No images yet</text></svg>'
        )
    first, last = points[0].day.toordinal(), points[-1].day.toordinal()
    span = max(last - first, 1)
    top = max(p.value for p in points) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + (day.toordinal() - first) / span * plot_w

    def y(value: int) -> float:
        return TOP + plot_h - value / top * plot_h

    path = [f"M{x(points[0].day):.1f},{y(points[0].value):.1f}"]
    for point in points[1:]:
        path.append(f"H{x(point.day):.1f}V{y(point.value):.1f}")
    path.append(f"H{LEFT + plot_w:.1f}")
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">{title}',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{escape(human_size(top))}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
        f'<text class="tick" x="{LEFT}" y="{HEIGHT - 8}">{points[0].day.isoformat()}</text>',
        f'<text class="tick" x="{LEFT + plot_w}" y="{HEIGHT - 8}" text-anchor="end">'
        f"{points[-1].day.isoformat()}</text>",
        f'<path class="line" d="{"".join(path)}"/>',
    ]
    for point in points:
        parts.append(
            f'<circle class="dot" cx="{x(point.day):.1f}" cy="{y(point.value):.1f}" r="3">'
            f"<title>{point.day.isoformat()}: {escape(human_size(point.value))}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
