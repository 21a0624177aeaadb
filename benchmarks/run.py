"""Measure tinygrad_edu against micrograd, PyTorch scalar mode and plain floats (SPEC §8).

    python benchmarks/run.py              # full run, several minutes
    python benchmarks/run.py --quick      # under a minute
    python benchmarks/run.py --markdown   # the report as markdown
    python benchmarks/run.py --from-json benchmarks/results/readme-run.json --readme
                                          # the README's performance summary of a saved run

Every measurement runs in a fresh process (``run.py --worker ENGINE WORKLOAD ...``, which
prints one JSON line), so no engine inherits another's heap or garbage-collector state.
The report prints ratios to micrograd first, then SPEC §8's targets with PASS/MISS, the
table of medians, and the distance to the plain-float floor.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import gc
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
# Measure the checkout's tinygrad_edu, not whichever copy happens to be installed.
sys.path.insert(0, str(REPO_ROOT))

import report  # noqa: E402  (needs the path set up above)
import workloads  # noqa: E402

from tinygrad_edu.files import write_atomically  # noqa: E402

HIDE_VARIABLE = "TINYGRAD_EDU_BENCH_HIDE"
RAISED_RECURSION_LIMIT = 10**7
RAISED_STACK_BYTES = 1 << 30  # virtual; only the pages a deep recursion touches are used
WORKER_TIMEOUT_SECONDS = 1800
# Engines whose graphs are Python objects: tracemalloc sees them and a walk can count them.
MEMORY_ENGINES = ("tinygrad_edu", "micrograd")


@dataclass(frozen=True)
class Plan:
    """How much to measure: sizes, and how many fresh processes per measurement."""

    name: str
    repeats: int  # fresh processes per measurement; medians are taken over all samples
    mlp_points: int
    mlp_steps: int  # timed steps per process, after one warm-up step
    chain_sizes: tuple[int, ...]  # for every engine
    chain_sizes_ours_only: tuple[int, ...]  # for tinygrad_edu only (--quick's 1e6 chain)
    tree_products: int
    memory_nodes: int


PLANS = {
    "full": Plan("full", 3, 100, 5, (10**3, 10**4, 10**5, 10**6), (), 10**5, 10**5),
    # --quick: one process each, chains to 1e5 (1e6 for tinygrad_edu), smaller tree and memory.
    "quick": Plan("quick", 1, 100, 1, (10**3, 10**4, 10**5), (10**6,), 3 * 10**4, 3 * 10**4),
    "smoke": Plan("smoke", 1, 4, 1, (200, 400), (), 100, 200),
}


# ---- the worker: one measurement in this (fresh) process ---------------------------------


def inner_repeats(n_nodes: int) -> int:
    """Small graphs run several times per process so their medians are not one noisy sample."""
    return max(1, min(15, 30_000 // n_nodes))


def run_worker(
    engine_name: str, workload: str, size: int, gc_mode: str, steps: int
) -> dict[str, Any]:
    """Run one workload on one engine and return its samples and check numbers."""
    try:
        engine = workloads.load_engine(engine_name)
    except ImportError as error:
        return {"unavailable": f"not installed ({error})"}
    if gc_mode == "off":
        gc.disable()  # this benchmark process only
    if workload == "mlp":
        return measure_mlp(engine, size, steps, gc_mode)
    if workload == "chain":
        samples = [workloads.chain(engine, size) for _ in range(inner_repeats(size))]
        return pool_samples(samples)
    if workload == "tree":
        a, b = workloads.tree_leaves(size)
        samples = [workloads.tree(engine, a, b) for _ in range(inner_repeats(2 * size))]
        return pool_samples(samples)
    if workload == "memory":
        if engine_name not in MEMORY_ENGINES:
            return {"unavailable": "tracemalloc cannot see this engine's graph memory"}
        return workloads.graph_memory(engine, size)
    raise ValueError(f"unknown workload {workload!r}")


def measure_mlp(
    engine: workloads.Engine, n_points: int, steps: int, gc_mode: str
) -> dict[str, Any]:
    """One warm-up step (its loss and gradients are the checks), then ``steps`` timed steps."""
    x, y = workloads.make_moons(n_points, seed=0)
    points, labels = x.tolist(), y.tolist()
    try:
        model, params = engine.mlp(workloads.make_weights(*workloads.ARCHITECTURE, seed=0))
    except ImportError as error:
        return {"unavailable": f"no MLP: {error}"}
    before = [engine.value(p) for p in params]
    result: dict[str, Any] = {"loss": workloads.mlp_step(engine, model, params, points, labels)}
    if engine.differentiable:
        # sum_i c_i g_i from the update p -= lr * g: it changes if any gradient is wrong.
        gradients = [
            (b - engine.value(p)) / workloads.LEARNING_RATE
            for b, p in zip(before, params, strict=True)
        ]
        result["grad_checksum"] = math.fsum((1 + i % 7) * g for i, g in enumerate(gradients))
    if engine.name in MEMORY_ENGINES:
        nodes = workloads.mlp_graph_size(engine, model, params, points, labels)
        result["op_nodes"], result["leaves"] = nodes
    times = []
    for _ in range(steps):
        if gc_mode == "off":
            gc.collect()  # outside the timer: a gc-off step measures compute, not a growing heap
        start = time.perf_counter()
        workloads.mlp_step(engine, model, params, points, labels)
        times.append(time.perf_counter() - start)
    result["step"] = times
    return result


def pool_samples(samples: list[dict[str, float]]) -> dict[str, Any]:
    """Timings as lists (one entry per run); check numbers from the first run."""
    pooled: dict[str, Any] = dict(samples[0])
    for key in ("forward", "backward"):
        if key in samples[0]:
            pooled[key] = [s[key] for s in samples]
    return pooled


def worker_main(
    engine_name: str, workload: str, size: int, gc_mode: str, steps: int, raised_limit: bool
) -> None:
    """Print the worker's result as one JSON line; a RecursionError is a result, not a crash."""
    hidden = [h for h in os.environ.get(HIDE_VARIABLE, "").split(",") if h]
    workloads.hide_modules([workloads.ENGINE_MODULES[h] for h in hidden])

    def measure() -> dict[str, Any]:
        try:
            return run_worker(engine_name, workload, size, gc_mode, steps)
        except RecursionError as error:
            return {"error": "RecursionError", "message": str(error)}

    if raised_limit:
        result = run_in_deep_thread(measure)
        result["recursion_limit"] = RAISED_RECURSION_LIMIT
    else:
        result = measure()
        result["recursion_limit"] = sys.getrecursionlimit()
    print(json.dumps(result))


def run_in_deep_thread(function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``function`` in a thread with a 1 GiB stack and a recursion limit of 10**7."""
    sys.setrecursionlimit(RAISED_RECURSION_LIMIT)
    threading.stack_size(RAISED_STACK_BYTES)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome.update(function())
        except Exception as error:  # reported like a crash in the main thread would be
            outcome["error"] = f"{type(error).__name__}: {error}"

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return outcome


# ---- the orchestrator: one fresh process per measurement ----------------------------------


def spawn_worker(
    engine: str,
    workload: str,
    size: int,
    *,
    gc_mode: str = "on",
    steps: int = 1,
    raised_limit: bool = False,
) -> dict[str, Any]:
    """Run one worker process and parse its JSON line; a crash is reported, not raised."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, workload]
    command += ["--size", str(size), "--gc", gc_mode, "--steps", str(steps)]
    if raised_limit:
        command.append("--raised-limit")
    label = f"{engine} {workload} {size} gc={gc_mode}{' raised-limit' if raised_limit else ''}"
    print(f"  running {label}", file=sys.stderr, flush=True)
    try:
        finished = subprocess.run(
            command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_SECONDS} s"}
    lines = finished.stdout.strip().splitlines()
    if finished.returncode != 0 or not lines:
        last = (finished.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker crashed (exit {finished.returncode}): {last}"}
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def repeat_worker(repeats: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run the same worker ``repeats`` times and pool its timing lists."""
    runs = [spawn_worker(*args, **kwargs) for _ in range(repeats)]
    return merge_runs(runs)


def interleaved_workers(
    repeats: int, engines: list[str], *args: Any, **kwargs: Any
) -> dict[str, dict[str, Any]]:
    """``repeats`` rounds, each running every engine once, pooled per engine.

    Round by round, not engine by engine: a busy spell on a shared machine then slows
    every engine a little, instead of one engine a lot, and the ratios stay fair. Each
    round starts one engine later, so no engine always runs first.
    """
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in engines}
    for round_number in range(repeats):
        for name in in_turn(engines, round_number):
            runs[name].append(spawn_worker(name, *args, **kwargs))
    return {name: merge_runs(engine_runs) for name, engine_runs in runs.items()}


def in_turn(engines: list[str], round_number: int) -> list[str]:
    """The engines in this round's order: each round starts one engine later."""
    start = round_number % len(engines)
    return engines[start:] + engines[:start]


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate the runs' timing lists; the first failure wins over any timing."""
    for run in runs:
        if "error" in run or "unavailable" in run:
            return dict(run)
    merged = dict(runs[0])
    for key in ("step", "forward", "backward", "bytes"):
        if key in merged:
            merged[key] = [x for run in runs for x in as_list(run[key])]
    merged["processes"] = len(runs)
    return merged


def as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list) else [x]


def engine_status(hidden: set[str]) -> dict[str, dict[str, Any]]:
    """Which engines are installed, and their versions, without importing them."""
    status: dict[str, dict[str, Any]] = {}
    for name in workloads.ENGINES:
        module = workloads.ENGINE_MODULES.get(name)
        if name in hidden:
            status[name] = {"available": False, "reason": "not installed (hidden with --hide)"}
        elif module is not None and util.find_spec(module) is None:
            status[name] = {"available": False, "reason": "not installed"}
        else:
            status[name] = {"available": True, "version": package_version(name)}
    return status


def package_version(engine: str) -> str:
    """The engine's version string ('' when the package metadata is missing)."""
    if engine == "floats":
        return platform.python_version()
    if engine == "tinygrad_edu":
        return "checkout"
    try:
        return metadata.version(engine)
    except metadata.PackageNotFoundError:
        return ""


def machine() -> dict[str, Any]:
    """CPU model (from /proc/cpuinfo), logical cores, Python and numpy versions."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": metadata.version("numpy"),
        # Other work on the machine shows up as noise in every figure; say how busy it was.
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def measure_chains(plan: Plan, available: list[str]) -> dict[str, dict[str, Any]]:
    """Every chain size on every engine, in rounds: per round, each engine runs every size.

    The backward ns/node spread compares one engine's sizes, so those run back to back in
    each round (each round starting one engine later): a slow spell on a shared machine
    then slows all sizes alike instead of landing on one. An engine that raises
    RecursionError at the default recursion limit is measured again with the limit
    raised, and from then on only so; the first error is kept for the report.
    """
    sizes = sorted(set(plan.chain_sizes) | set(plan.chain_sizes_ours_only))
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {size: {} for size in sizes}
    default_limit_errors: dict[tuple[int, str], str] = {}
    for round_number in range(plan.repeats):
        for name in in_turn(available, round_number):
            for size in sizes:
                if size not in plan.chain_sizes and name != "tinygrad_edu":
                    continue
                raised = (size, name) in default_limit_errors
                result = spawn_worker(name, "chain", size, raised_limit=raised)
                if not raised and result.get("error") == "RecursionError":
                    default_limit_errors[(size, name)] = result["message"]
                    result = spawn_worker(name, "chain", size, raised_limit=True)
                runs[size].setdefault(name, []).append(result)
    results: dict[str, dict[str, Any]] = {}
    for size, by_engine in runs.items():
        results[str(size)] = {
            name: merge_runs(engine_runs) for name, engine_runs in by_engine.items()
        }
        for name in by_engine:
            if (size, name) in default_limit_errors:
                results[str(size)][name]["default_limit_error"] = default_limit_errors[(size, name)]
    return results


def run_plan(plan: Plan, engines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every measurement of the plan, as the JSON-able structure ``report`` renders."""
    available = [name for name, status in engines.items() if status["available"]]
    results: dict[str, Any] = {"mlp": {}, "chain": {}, "tree": {}, "memory": {}}
    for gc_mode in ("on", "off"):
        results["mlp"][gc_mode] = interleaved_workers(
            plan.repeats, available, "mlp", plan.mlp_points, gc_mode=gc_mode, steps=plan.mlp_steps
        )
    results["chain"] = measure_chains(plan, available)
    results["tree"] = interleaved_workers(plan.repeats, available, "tree", plan.tree_products)
    results["memory"] = {
        name: repeat_worker(plan.repeats, name, "memory", plan.memory_nodes)
        for name in available
        if name in MEMORY_ENGINES
    }
    return results


def profile_mlp(engine_name: str, n_points: int, steps: int) -> str:
    """cProfile of ``steps`` MLP steps (after a warm-up step): the top 10 entries by tottime."""
    engine = workloads.load_engine(engine_name)
    x, y = workloads.make_moons(n_points, seed=0)
    points, labels = x.tolist(), y.tolist()
    model, params = engine.mlp(workloads.make_weights(*workloads.ARCHITECTURE, seed=0))
    workloads.mlp_step(engine, model, params, points, labels)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        workloads.mlp_step(engine, model, params, points, labels)
    profiler.disable()
    with tempfile.TemporaryFile("w+") as stream:
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(10)
        stream.seek(0)
        return stream.read()


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(data, indent=1) + "\n")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="under a minute: one process each, chains to 1e5"
    )
    mode.add_argument(
        "--smoke", action="store_true", help="tiny graphs, one repeat: checks the harness"
    )
    mode.add_argument(
        "--profile", metavar="ENGINE", choices=workloads.ENGINES, help="cProfile the MLP step"
    )
    parser.add_argument("--markdown", action="store_true", help="print the report as markdown")
    parser.add_argument(
        "--readme", action="store_true", help="print only the README's summary (markdown)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every sample as JSON")
    mode.add_argument("--from-json", type=Path, metavar="PATH", help="re-render a saved --json run")
    parser.add_argument(
        "--hide",
        default=os.environ.get(HIDE_VARIABLE, ""),
        metavar="ENGINES",
        help="comma-separated engines to treat as not installed (tests the skipping)",
    )
    # The worker interface, used by the orchestrator itself.
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--gc", choices=("on", "off"), default="on", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--raised-limit", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    hidden = {h.strip() for h in arguments.hide.split(",") if h.strip()}
    unknown = hidden - set(workloads.ENGINE_MODULES)
    if unknown:
        parser.error(f"--hide: unknown engine(s) {', '.join(sorted(unknown))}")
    arguments.hidden = hidden
    return arguments


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks (or one worker) and print the report."""
    arguments = parse_arguments(argv)
    if arguments.worker:
        engine, workload = arguments.worker
        worker_main(
            engine, workload, arguments.size, arguments.gc, arguments.steps, arguments.raised_limit
        )
        sys.stdout.flush()
        # Skip tearing down a million-node graph: the result is printed, nothing else is owed.
        os._exit(0)
    if arguments.profile:
        print(profile_mlp(arguments.profile, PLANS["full"].mlp_points, steps=3))
        return 0
    if arguments.from_json:
        print(render(json.loads(arguments.from_json.read_text()), arguments))
        return 0
    plan = PLANS["smoke" if arguments.smoke else "quick" if arguments.quick else "full"]
    os.environ[HIDE_VARIABLE] = ",".join(sorted(arguments.hidden))  # the workers inherit it
    engines = engine_status(arguments.hidden)
    machine_now = machine()
    started = time.perf_counter()
    results = run_plan(plan, engines)
    data = {
        "date": datetime.date.today().isoformat(),
        "machine": machine_now,
        "plan": asdict(plan),
        "engines": engines,
        "results": results,
        "wall_seconds": time.perf_counter() - started,
    }
    if arguments.json:
        write_json(arguments.json, data)
    print(render(data, arguments))
    return 0


def render(data: dict[str, Any], arguments: argparse.Namespace) -> str:
    """The full report (text or markdown), or only the README's summary."""
    if arguments.readme:
        return report.readme_summary(data)
    return report.render(data, markdown=arguments.markdown)


if __name__ == "__main__":
    sys.exit(main())
