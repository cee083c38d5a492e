"""Side-by-side benchmark: moorage against Distribution 2.8 (Debian's `docker-registry`).

    python -m benchmarks.run [--quick] [--output FILE] [--candidate-command TEMPLATE]

Each round starts both registries with fresh storage on the same disk, builds content with fresh
digests, and runs every metric on both, alternating which goes first (A B, then B A), so that slow
drift on this shared 2-core machine hits both alike; the round count is always even, so each side
goes first equally often. An untimed warm-up round goes first. Medians over rounds are compared.
The machine's settings are left as found (see `benchmarks.memory`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import content, memory, report, workloads
from benchmarks.processes import tree_cpu_seconds
from benchmarks.registries import MOORAGE_COMMAND, run_candidate, run_distribution
from benchmarks.workloads import METRICS, Metric, RoundContent, Side

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
DEPENDS_ON = {"pull_big": "push_big", "pull_many": "push_many", "raw_download": "raw_upload", "peak_pss": "peak_rss"}


@dataclass(frozen=True)
class Plan:
    """How much work a run does; --quick shrinks it to stay under ~3 minutes."""

    rounds: int
    warmup_rounds: int
    big_layer_mib: int
    many_layers: int
    small_layer_kib: int
    raw_mib: int
    memory_mib: int
    memory_rounds: int
    load_seconds: int


FULL = Plan(
    rounds=6,
    warmup_rounds=1,
    big_layer_mib=500,
    many_layers=200,
    small_layer_kib=16,
    raw_mib=1024,
    memory_mib=2048,
    memory_rounds=5,
    load_seconds=5,
)
QUICK = Plan(
    rounds=2,
    warmup_rounds=1,
    big_layer_mib=200,
    many_layers=100,
    small_layer_kib=16,
    raw_mib=512,
    memory_mib=2048,
    memory_rounds=1,
    load_seconds=3,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller content (~3 min)")
    parser.add_argument("--output", type=Path, help="also write the results as markdown to this file")
    parser.add_argument(
        "--candidate-command",
        default=MOORAGE_COMMAND,
        help="command template for the registry under test, with {port}, {data_dir} and "
        "{work_dir}; the word 'distribution' runs a second Distribution (harness check)",
    )
    parser.add_argument("--candidate-name", default=None, help="column label for the candidate")
    parser.add_argument("--rounds", type=int, help="rounds per metric, rounded up to even (medians are compared)")
    parser.add_argument("--warmup-rounds", type=int, help="untimed rounds before the timed ones")
    parser.add_argument("--raw-mib", type=int, help="size of the raw upload/download blob")
    parser.add_argument("--memory-mib", type=int, help="size of the blob moved while sampling memory")
    parser.add_argument("--big-layer-mib", type=int, help="size of the single-layer image")
    parser.add_argument("--many-layers", type=int, help="layer count of the many-layer image")
    parser.add_argument("--load-seconds", type=int, help="duration of each wrk/hey run")
    parser.add_argument(
        "--metrics",
        help="comma-separated metric keys to run (default: all): " + ", ".join(metric.key for metric in METRICS),
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO_ROOT / ".benchmarks-work",
        help="scratch space on the disk under test (default: .benchmarks-work/)",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep registry data and logs afterwards")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    base = QUICK if args.quick else FULL
    overrides = {
        name: getattr(args, name)
        for name in ("rounds", "warmup_rounds", "raw_mib", "memory_mib", "big_layer_mib", "many_layers", "load_seconds")
        if getattr(args, name) is not None
    }
    plan = dataclasses.replace(base, **overrides)
    # An even count lets each side go first equally often: the first of a pair pays the fresh memory.
    rounds = max(2, plan.rounds + plan.rounds % 2)
    return dataclasses.replace(plan, rounds=rounds, memory_rounds=min(plan.memory_rounds, rounds))


@dataclass(frozen=True)
class RoundSlot:
    """One round of a run: its number among its kind, whether it is timed, which side goes first."""

    index: int
    warm_up: bool
    candidate_first: bool


def schedule(plan: Plan) -> list[RoundSlot]:
    """Untimed warm-up rounds, then the timed rounds, the side that goes first alternating in each."""
    warm_ups = [RoundSlot(index, True, index % 2 == 0) for index in range(plan.warmup_rounds)]
    return warm_ups + [RoundSlot(index, False, index % 2 == 0) for index in range(plan.rounds)]


def selected_metrics(args: argparse.Namespace) -> list[Metric]:
    if not args.metrics:
        return list(METRICS)
    keys = {key.strip() for key in args.metrics.split(",")}
    # A pull needs the push before it, a download the upload.
    keys |= {needed for key, needed in DEPENDS_ON.items() if key in keys}
    unknown = keys - {metric.key for metric in METRICS}
    if unknown:
        raise SystemExit(f"unknown metrics: {', '.join(sorted(unknown))}")
    return [metric for metric in METRICS if metric.key in keys]


def candidate_label(args: argparse.Namespace) -> str:
    if args.candidate_name:
        return str(args.candidate_name)
    return "moorage" if args.candidate_command == MOORAGE_COMMAND else "candidate"


def metric_titles(plan: Plan) -> dict[str, str]:
    """Metric names that state the sizes this run used."""
    return {
        "push_big": f"skopeo push, 1 layer of {plan.big_layer_mib} MiB",
        "pull_big": f"skopeo pull, 1 layer of {plan.big_layer_mib} MiB",
        "push_many": f"skopeo push, {plan.many_layers} layers of {plan.small_layer_kib} KiB",
        "pull_many": f"skopeo pull, {plan.many_layers} layers of {plan.small_layer_kib} KiB",
        "raw_upload": f"raw blob upload, {plan.raw_mib} MiB (POST + PUT)",
        "raw_download": f"raw blob download, {plan.raw_mib} MiB (GET)",
        "manifest_get": "manifest GET by tag, 32 connections",
        "blob_head": "blob HEAD, 32 connections",
        "peak_rss": f"peak RSS, {plan.memory_mib} MiB upload + download",
        "peak_pss": "peak PSS, same transfer (shared pages once)",
    }


def client_env(work: Path) -> dict[str, str]:
    """skopeo reads its auth and registries config from this run's files, not the machine's."""
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    auth = work / "auth.json"
    auth.write_text("{}")
    registries = work / "registries.conf"
    registries.write_text("unqualified-search-registries = []\n")
    return {
        **os.environ,
        "REGISTRY_AUTH_FILE": str(auth),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "TMPDIR": str(work / "tmp"),
    }


def base_size(plan: Plan, metrics: list[Metric]) -> int:
    """Bytes of random base content the largest piece of this run's content needs."""
    keys = {metric.key for metric in metrics}
    sizes = [
        plan.big_layer_mib if keys & {"push_big", "pull_big"} else 0,
        plan.raw_mib if keys & {"raw_upload", "raw_download"} else 0,
        plan.memory_mib if "peak_rss" in keys else 0,
    ]
    return max(1, *sizes) * MiB


def build_round_content(work: Path, plan: Plan, round_index: int, metrics: list[Metric]) -> RoundContent:
    """Fresh images and blobs for one round, all derived from one cached random base file."""
    keys = {metric.key for metric in metrics}
    cache = work / "content-cache"
    size = base_size(plan, metrics)
    base = content.ensure_random_file(cache / f"random-{size // MiB}MiB.bin", size)
    rounds_dir = work / "content"
    shutil.rmtree(rounds_dir, ignore_errors=True)
    rounds_dir.mkdir(parents=True)
    big_bytes = many_bytes = 0
    if keys & {"push_big", "pull_big"}:
        big_bytes = content.big_layer_image(rounds_dir / "big", workloads.BIG_TAG, base, plan.big_layer_mib * MiB)
    if keys & {"push_many", "pull_many"}:
        many_bytes = content.many_layer_image(
            rounds_dir / "many", workloads.MANY_TAG, plan.many_layers, plan.small_layer_kib * 1024
        )
    raw = memory = None
    if keys & {"raw_upload", "raw_download"}:
        raw = content.fresh_raw_blob(base, cache / "raw.bin", plan.raw_mib * MiB)
    if "peak_rss" in keys and round_index < plan.memory_rounds:
        memory = content.fresh_raw_blob(base, cache / "memory.bin", plan.memory_mib * MiB)
    return RoundContent(rounds_dir / "big", big_bytes, rounds_dir / "many", many_bytes, plan.many_layers, raw, memory)


@contextlib.contextmanager
def both_registries(work: Path, args: argparse.Namespace, env: dict[str, str]) -> Iterator[tuple[Side, Side]]:
    """The candidate and Distribution, each with fresh storage, stopped when the round ends."""
    label = candidate_label(args)
    for name in ("candidate", "distribution"):
        shutil.rmtree(work / f"{name}-data", ignore_errors=True)
        (work / f"{name}-scratch").mkdir(parents=True, exist_ok=True)
    with (
        run_candidate(work, args.candidate_command, "candidate") as candidate,
        run_distribution(work, "distribution") as reference,
    ):
        sides = (
            Side(label, candidate, work / "candidate-scratch", env),
            Side("Distribution", reference, work / "distribution-scratch", env),
        )
        for side in sides:
            workloads.seed(side)
        yield sides
    for name in ("candidate", "distribution"):
        shutil.rmtree(work / f"{name}-data", ignore_errors=True)


@dataclass
class Samples:
    """Per metric key, one list per side (candidate first): the measured values and CPU costs.

    Only complete rounds are kept, so the two sides' lists stay paired round by round.
    """

    values: dict[str, tuple[list[float], list[float]]]
    costs: dict[str, tuple[list[float], list[float]]]
    rounds_done: int = 0
    error: str | None = None

    @classmethod
    def empty(cls, metrics: list[Metric]) -> Samples:
        return cls({m.key: ([], []) for m in metrics}, {m.key: ([], []) for m in metrics if m.cost})

    def merge(self, other: Samples) -> None:
        for mine, theirs in ((self.values, other.values), (self.costs, other.costs)):
            for key, (candidate, reference) in theirs.items():
                mine[key][0].extend(candidate)
                mine[key][1].extend(reference)
        self.rounds_done += 1


def measure_once(metric: Metric, side: Side, round_content: RoundContent, plan: Plan) -> tuple[float, float | None]:
    """One measurement on one side: its value, and the server's CPU time per unit of work."""
    workloads.settle()
    cpu_before = tree_cpu_seconds(side.server.process.pid)
    value = metric.run(side, round_content, plan.load_seconds)
    cpu = tree_cpu_seconds(side.server.process.pid) - cpu_before
    if metric.cost is None:
        return value, None
    return value, cpu / metric.cost.work(value, round_content, plan.load_seconds)


def run_round(
    args: argparse.Namespace, plan: Plan, metrics: list[Metric], work: Path, env: dict[str, str], slot: RoundSlot
) -> Samples:
    """Every metric on both sides once, the side that goes first alternating between rounds.

    A warm-up round runs everything but the memory sampling, and its values are only printed.
    """
    samples = Samples.empty(metrics)
    round_content = build_round_content(work, plan, plan.memory_rounds if slot.warm_up else slot.index, metrics)
    name = f"warm-up {slot.index + 1}/{plan.warmup_rounds}" if slot.warm_up else f"{slot.index + 1}/{plan.rounds}"
    with both_registries(work, args, env) as (candidate, reference):
        order = [(0, candidate), (1, reference)]
        if not slot.candidate_first:
            order.reverse()
        for metric in metrics:
            if metric.key in ("peak_rss", "peak_pss") and round_content.memory is None:
                continue
            for position, side in order:
                value, cost = measure_once(metric, side, round_content, plan)
                samples.values[metric.key][position].append(value)
                if cost is not None:
                    samples.costs[metric.key][position].append(cost)
            values = samples.values[metric.key]
            print(
                f"  round {name} {metric.key}: {candidate.label} {values[0][-1]:.2f}, "
                f"Distribution {values[1][-1]:.2f} {metric.unit}",
                flush=True,
            )
    return samples


def run_rounds(args: argparse.Namespace, plan: Plan, metrics: list[Metric], work: Path) -> Samples:
    """All rounds, warm-ups first (discarded); a failing round ends the run but keeps the timed rounds before it."""
    samples = Samples.empty(metrics)
    env = client_env(work)
    for slot in schedule(plan):
        name = f"warm-up round {slot.index + 1}" if slot.warm_up else f"round {slot.index + 1}"
        started = time.monotonic()
        try:
            measured = run_round(args, plan, metrics, work, env, slot)
        except Exception as error:  # report what was measured; the caller exits non-zero
            samples.error = f"{name} failed: {error}"
            print(samples.error, file=sys.stderr, flush=True)
            break
        if not slot.warm_up:
            samples.merge(measured)
        print(f"{name} took {time.monotonic() - started:.0f} s", flush=True)
    return samples


def versions(candidate_command: str) -> dict[str, str]:
    def first_line(command: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            result = subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=REPO_ROOT)
            return (result.stdout or result.stderr).strip().splitlines()[0]
        return "unknown"

    commit = first_line(["git", "describe", "--always", "--dirty"])
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}",
        "python": platform.python_version(),
        "moorage commit": commit,
        "candidate command": candidate_command,
        "reference": first_line(["docker-registry", "--version"]),
        "skopeo": first_line(["skopeo", "--version"]),
    }


def clean_work(work: Path, keep_logs: bool) -> None:
    """Remove the run's scratch space; after a failure keep the small files (logs, configs)."""
    if not keep_logs:
        shutil.rmtree(work, ignore_errors=True)
        return
    for child in work.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def render(
    rows: list[report.Row],
    costs: list[report.CostRow],
    label: str,
    titles: dict[str, str],
    info: dict[str, str],
    plan: Plan,
    markdown: bool,
) -> str:
    """The results table, the CPU-cost table, and the conditions of the run."""
    details = [f"{key}: {value}" for key, value in info.items()]
    details.append(
        f"rounds: {plan.rounds} timed after {plan.warmup_rounds} untimed warm-up, each side first in half of "
        f"them (memory: {plan.memory_rounds}); load tools run {plan.load_seconds} s at 32 "
        "connections; values are medians over rounds; ratio is the median of the per-round paired ratios "
        "(range: lowest and highest); ratio > 1 means the candidate did better (times, memory and CPU "
        f"costs inverted); parity: a '>= 1x' ratio less than {report.PARITY_BAND:.0%} below 1, the spread "
        "of Distribution run against itself"
    )
    if markdown:
        details = [f"- {line}" for line in details]
    parts = [report.result_table(rows, label, titles, markdown)]
    if costs:
        parts.append(report.cost_table(costs, label, titles, markdown))
    parts.append("\n".join(details))
    return "\n\n".join(parts) + "\n"


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so the servers' cleanup runs as on Ctrl-C."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan, metrics = make_plan(args), selected_metrics(args)
    install_signal_handlers()
    missing = [tool for tool in ("skopeo", "docker-registry", "wrk", "hey", "curl") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)} (apt-get install skopeo docker-registry wrk hey curl)")
    work = args.work_dir / f"run-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    info = versions(args.candidate_command)
    load_before = load_average()
    started = time.monotonic()
    try:
        info["memory"] = memory.page_reporting()
        samples = run_rounds(args, plan, metrics, work)
    except BaseException:
        clean_work(work, keep_logs=True)
        print(f"stopped early; server logs are in {work}", file=sys.stderr)
        raise
    if samples.error:
        clean_work(work, keep_logs=True)
        print(f"server logs are in {work}", file=sys.stderr)
        info["incomplete"] = f"{samples.rounds_done} of {plan.rounds} rounds; {samples.error.splitlines()[0]}"
        if not samples.rounds_done:
            return 1
    elif not args.keep_work:
        clean_work(work, keep_logs=False)
    info["load average (1/5/15 min)"] = f"{load_before} before, {load_average()} after"
    info["duration"] = f"{time.monotonic() - started:.0f} s"
    label = candidate_label(args)
    measured = [metric for metric in metrics if samples.values[metric.key][0]]
    rows = [report.summarise(metric, *samples.values[metric.key]) for metric in measured]
    costs = [report.summarise_cost(metric, *samples.costs[metric.key]) for metric in measured if metric.cost]
    titles = metric_titles(plan)
    print()
    print(render(rows, costs, label, titles, info, plan, markdown=False))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(render(rows, costs, label, titles, info, plan, markdown=True))
        print(f"\nwrote {args.output}")
    return 1 if samples.error else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
