"""The benchmark's verdicts: a target is met, missed, or (for "at least equal") within the noise of equal."""

import pytest

from benchmarks import report
from benchmarks.workloads import METRICS

BY_KEY = {metric.key: metric for metric in METRICS}


@pytest.mark.parametrize(
    ("key", "ratio", "expected"),
    [
        ("pull_big", 1.0, "met"),
        ("pull_big", 1.3, "met"),
        ("pull_big", 1 - report.PARITY_BAND / 2, "parity"),
        ("pull_big", 1 - 2 * report.PARITY_BAND, "MISSED"),
        ("raw_upload", 2.0, "met"),
        ("raw_upload", 1.99, "MISSED"),  # no band for "better than": only equality is blurred by noise
        ("manifest_get", 1.0, "MISSED"),
    ],
)
def test_ratio_targets(key: str, ratio: float, expected: str) -> None:
    assert report.verdict(BY_KEY[key], candidate=1.0, ratio=ratio) == expected


def test_memory_is_judged_on_the_candidate_alone() -> None:
    peak = BY_KEY["peak_rss"]
    assert report.verdict(peak, candidate=report.MEMORY_LIMIT_MB - 1, ratio=0.1) == "met"
    assert report.verdict(peak, candidate=report.MEMORY_LIMIT_MB, ratio=5.0) == "MISSED"


def test_figures_without_a_target_get_no_verdict() -> None:
    assert report.verdict(BY_KEY["peak_pss"], candidate=500.0, ratio=0.1) == ""


def test_the_headline_ratio_is_the_median_of_paired_ratios() -> None:
    row = report.summarise(BY_KEY["pull_big"], candidate=[2.0, 1.0, 4.0], reference=[2.0, 2.0, 2.0])
    assert row.ratio == 1.0  # pairs 1.0, 2.0, 0.5
    assert (row.ratio_low, row.ratio_high) == (0.5, 2.0)
    assert row.verdict == "met"
