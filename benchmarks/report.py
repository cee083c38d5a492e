"""Turn per-round samples into the comparison table: medians, ratios, targets, met or missed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from benchmarks.workloads import Metric

MEMORY_LIMIT_MB = 200.0


@dataclass(frozen=True)
class Row:
    """One metric's outcome: both medians, the paired ratio (>1: the candidate did better), verdict."""

    metric: Metric
    candidate: float
    reference: float
    ratio: float
    ratio_low: float
    ratio_high: float
    rounds: int
    verdict: str


def speed_ratio(metric: Metric, candidate: float, reference: float) -> float:
    """Candidate over reference for rates; reference over candidate for times and memory.

    So every ratio reads the same way: 2.0 means the candidate is twice as good.
    """
    if metric.higher_is_better:
        return candidate / reference if reference else float("inf")
    return reference / candidate if candidate else float("inf")


PARITY_BAND = 0.02
"""How far below 1x a median ratio of two identical servers fell: Distribution against itself, with
memory kept, gave 0.98x for the big push and printed the big pull as missed at 1.00x (docs/benchmarks.md,
"Noise: an A/A run"). Within it, an "at least equal" figure cannot be told from equal."""


def verdict(metric: Metric, candidate: float, ratio: float) -> str:
    """One of met, parity (a ">= 1x" ratio within `PARITY_BAND` below 1), MISSED, or "" without a target."""
    if metric.target == "info":
        return ""
    if metric.key == "peak_rss":
        return "met" if candidate < MEMORY_LIMIT_MB else "MISSED"
    target = float(metric.target.strip(">= x"))
    if ratio >= target:
        return "met"
    if target == 1.0 and ratio >= 1.0 - PARITY_BAND:
        return "parity"
    return "MISSED"


def summarise(metric: Metric, candidate: list[float], reference: list[float]) -> Row:
    """The headline ratio is the median of the per-round paired ratios, not the ratio of medians.

    Both sides of a round ran back to back under the same machine load, so a paired ratio cancels
    load that drifts between rounds; the ratio of medians can pair a quiet round with a busy one.
    """
    paired = [speed_ratio(metric, c, r) for c, r in zip(candidate, reference, strict=True)]
    candidate_median = statistics.median(candidate)
    ratio = statistics.median(paired)
    return Row(
        metric,
        candidate_median,
        statistics.median(reference),
        ratio,
        min(paired),
        max(paired),
        len(paired),
        verdict(metric, candidate_median, ratio),
    )


def _value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


@dataclass(frozen=True)
class CostRow:
    """The server's median CPU time per unit of work; ratio > 1 means the candidate is cheaper."""

    metric: Metric
    candidate: float
    reference: float

    @property
    def ratio(self) -> float:
        return self.reference / self.candidate if self.candidate else float("inf")


def summarise_cost(metric: Metric, candidate: list[float], reference: list[float]) -> CostRow:
    return CostRow(metric, statistics.median(candidate), statistics.median(reference))


def result_lines(rows: list[Row], titles: dict[str, str]) -> list[list[str]]:
    return [
        [
            titles.get(row.metric.key, row.metric.title),
            _value(row.candidate, row.metric.unit),
            _value(row.reference, row.metric.unit),
            f"{row.ratio:.2f}x",
            f"{row.ratio_low:.2f}-{row.ratio_high:.2f}",
            row.metric.target,
            row.verdict,
        ]
        for row in rows
    ]


def result_table(rows: list[Row], candidate_label: str, titles: dict[str, str], markdown: bool) -> str:
    header = ["metric", candidate_label, "Distribution", "ratio", "ratio range", "target", "result"]
    return render_table([header, *result_lines(rows, titles)], markdown)


def cost_table(rows: list[CostRow], candidate_label: str, titles: dict[str, str], markdown: bool) -> str:
    header = ["server CPU time", "unit", candidate_label, "Distribution", "ratio"]
    lines = [
        [
            titles.get(row.metric.key, row.metric.title),
            row.metric.cost.unit if row.metric.cost else "",
            _cost(row.candidate),
            _cost(row.reference),
            f"{row.ratio:.2f}x",
        ]
        for row in rows
    ]
    return render_table([header, *lines], markdown)


def _cost(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def render_table(lines: list[list[str]], markdown: bool) -> str:
    """Markdown, or fixed-width columns for the terminal; the first line is the header."""
    if markdown:
        rendered = ["| " + " | ".join(line) + " |" for line in lines]
        rendered.insert(1, "|" + "---|" * len(lines[0]))
        return "\n".join(rendered)
    widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]))]
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)
