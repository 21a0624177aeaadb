"""The benchmark harness runs, covers every installed engine and skips absent ones cleanly.

Nothing here asserts a timing: machines are noisy, and speed is the benchmarks' business.
What is tested is that the harness measures the same computation on every engine, reports
what it measured, and judges SPEC §8's targets by the right rule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from importlib import util
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN = REPO_ROOT / "benchmarks" / "run.py"
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import report  # noqa: E402  (lives in benchmarks/, not in the package)
import run  # noqa: E402
import workloads  # noqa: E402

OPTIONAL_ENGINES = ("micrograd", "torch")


def installed(module: str) -> bool:
    try:
        return util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package
        return False


def run_harness(
    *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """One --smoke run with every installed engine: its printed report and its JSON."""
    path = tmp_path_factory.mktemp("bench") / "smoke.json"
    finished = run_harness("--smoke", "--json", str(path), env={"TINYGRAD_EDU_BENCH_HIDE": ""})
    assert finished.returncode == 0, finished.stderr
    return finished.stdout, json.loads(path.read_text())


def test_smoke_run_prints_every_section_in_order(smoke: tuple[str, dict[str, Any]]) -> None:
    output, _ = smoke
    sections = [
        "Machine:",
        "Ratios to micrograd",
        "Targets (SPEC §8)",
        "Medians",
        "plain-float floor",
    ]
    positions = [output.index(s) for s in sections]
    assert positions == sorted(positions)
    header = next(line for line in output.splitlines() if line.startswith("figure"))
    assert header.split() == ["figure", *workloads.ENGINES]


def test_smoke_run_measures_every_installed_engine(smoke: tuple[str, dict[str, Any]]) -> None:
    _, data = smoke
    results = data["results"]
    expected = ["tinygrad_edu", "floats", *[e for e in OPTIONAL_ENGINES if installed(e)]]
    for engine in expected:
        assert data["engines"][engine]["available"]
        assert "backward" in results["tree"][engine] or engine == "floats"
        for entries in results["chain"].values():
            assert "forward" in entries[engine], entries[engine]
        has_mlp = engine != "tinygrad_edu" or installed("tinygrad_edu.nn")
        for gc_mode in ("on", "off"):
            assert ("step" in results["mlp"][gc_mode][engine]) == has_mlp
    for engine in ("tinygrad_edu", "micrograd"):
        if engine in expected:
            memory = results["memory"][engine]
            assert memory["op_nodes"] == data["plan"]["memory_nodes"]
    if "micrograd" in expected:  # a new Value for each use of 1.0001 or 0.5
        memory = results["memory"]["micrograd"]
        assert memory["constant_leaves"] == data["plan"]["memory_nodes"]
    # tinygrad_edu shares one constant leaf per number: 1.0001 and 0.5
    assert results["memory"]["tinygrad_edu"]["constant_leaves"] == 2


def test_every_engine_computes_the_same_numbers(smoke: tuple[str, dict[str, Any]]) -> None:
    output, data = smoke
    assert report.disagreements(data) == []
    assert "all engines agree" in output
    # The agreement is not vacuous: at least two engines report each chain's gradient.
    for entries in data["results"]["chain"].values():
        assert sum("input_grad" in entry for entry in entries.values()) >= 2


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_hidden_engines_are_skipped_cleanly(how: str, tmp_path: Path) -> None:
    path = tmp_path / "hidden.json"
    hide = ",".join(OPTIONAL_ENGINES)
    if how == "flag":
        finished = run_harness("--smoke", "--hide", hide, "--json", str(path))
    else:
        env = {"TINYGRAD_EDU_BENCH_HIDE": hide}
        finished = run_harness("--smoke", "--json", str(path), env=env)
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stdout + finished.stderr
    data = json.loads(path.read_text())
    for engine in OPTIONAL_ENGINES:
        assert not data["engines"][engine]["available"]
        assert f"{engine}: not installed" in finished.stdout
        assert all(engine not in entries for entries in data["results"]["chain"].values())
    assert "micrograd is not installed: no ratios." in finished.stdout
    row = next(
        line for line in finished.stdout.splitlines() if line.startswith("chain 200: forward")
    )
    assert row.count("not installed") == len(OPTIONAL_ENGINES)


def test_a_hidden_module_cannot_be_imported_by_a_worker() -> None:
    finished = run_harness(
        "--worker",
        "micrograd",
        "chain",
        "--size",
        "10",
        env={"TINYGRAD_EDU_BENCH_HIDE": "micrograd"},
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["unavailable"].startswith("not installed")


def test_unknown_engine_to_hide_is_a_usage_error() -> None:
    finished = run_harness("--smoke", "--hide", "tensorflow")
    assert finished.returncode == 2
    assert "tensorflow" in finished.stderr


def test_engines_take_turns_round_by_round(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_worker(engine: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(engine)
        return {"step": [float(len(calls))]}

    monkeypatch.setattr(run, "spawn_worker", fake_worker)
    pooled = run.interleaved_workers(3, ["a", "b", "c"], "mlp", 4)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert pooled["a"]["step"] == [1.0, 6.0, 8.0] and pooled["a"]["processes"] == 3


def test_chain_sizes_take_turns_and_a_recursion_error_switches_to_the_raised_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, int, bool]] = []

    def fake_worker(engine: str, workload: str, size: int, **kwargs: Any) -> dict[str, Any]:
        raised = kwargs.get("raised_limit", False)
        calls.append((engine, size, raised))
        if engine == "deep" and size > 10 and not raised:
            return {"error": "RecursionError", "message": "too deep"}
        return {"forward": [float(len(calls))], "backward": [1.0]}

    monkeypatch.setattr(run, "spawn_worker", fake_worker)
    plan = dataclasses.replace(run.PLANS["smoke"], repeats=2, chain_sizes=(10, 20))
    results = run.measure_chains(plan, ["tinygrad_edu", "deep"])
    first_round = [
        ("tinygrad_edu", 10, False),
        ("tinygrad_edu", 20, False),
        ("deep", 10, False),
        ("deep", 20, False),
        ("deep", 20, True),
    ]
    second_round = [  # the next engine goes first; "deep" at 20 goes to the raised limit
        ("deep", 10, False),
        ("deep", 20, True),
        ("tinygrad_edu", 10, False),
        ("tinygrad_edu", 20, False),
    ]
    assert calls == first_round + second_round
    assert results["20"]["deep"]["default_limit_error"] == "too deep"
    assert results["20"]["deep"]["forward"] == [5.0, 7.0]
    assert results["10"]["tinygrad_edu"]["forward"] == [1.0, 8.0]
    assert "default_limit_error" not in results["10"]["deep"]


def test_micrograd_recursion_error_is_reported_then_measured_with_a_raised_limit() -> None:
    pytest.importorskip("micrograd")
    size = 5000  # deeper than the default recursion limit of 1000
    default = json.loads(run_harness("--worker", "micrograd", "chain", "--size", str(size)).stdout)
    assert default["error"] == "RecursionError"
    finished = run_harness("--worker", "micrograd", "chain", "--size", str(size), "--raised-limit")
    raised = json.loads(finished.stdout)
    assert raised["recursion_limit"] == 10**7
    assert math.isclose(raised["input_grad"], workloads.CHAIN_FACTOR ** (size // 2), rel_tol=1e-12)


def test_tinygrad_edu_chain_works_at_the_default_recursion_limit() -> None:
    finished = run_harness("--worker", "tinygrad_edu", "chain", "--size", "5000")
    result = json.loads(finished.stdout)
    assert result["recursion_limit"] == sys.getrecursionlimit()
    assert math.isclose(result["input_grad"], workloads.CHAIN_FACTOR**2500, rel_tol=1e-12)


# ---- the workloads themselves, in process --------------------------------------------------


def test_chain_gradient_and_node_count() -> None:
    engine = workloads.load_engine("tinygrad_edu")
    result = workloads.chain(engine, 300)
    assert math.isclose(result["input_grad"], 1.0001**150, rel_tol=1e-12)
    y = workloads.build_chain(engine.leaf(1.0), 300)
    assert engine.count_nodes(y) == (300, 3)  # 300 ops; the input and two shared constants


def test_tree_gradient_sum_is_the_sum_of_the_other_factors() -> None:
    engine = workloads.load_engine("tinygrad_edu")
    a, b = workloads.tree_leaves(37, seed=3)  # odd, so the pairing carries a leftover
    result = workloads.tree(engine, a, b)
    assert math.isclose(result["output"], math.fsum(x * y for x, y in zip(a, b, strict=True)))
    assert math.isclose(result["grad_sum"], math.fsum(b))


def test_float_mlp_matches_a_hand_computed_neuron() -> None:
    weights = [[([0.5, -2.0], 0.25)]]  # one linear neuron: 0.25 + 0.5 x - 2 y
    model, params = workloads.load_engine("floats").mlp(weights)
    assert model([2.0, 1.0]) == 0.25 + 1.0 - 2.0
    assert params == [0.5, -2.0, 0.25]


def test_moons_are_seeded_and_balanced() -> None:
    x, y = workloads.make_moons(100, seed=0)
    again, _ = workloads.make_moons(100, seed=0)
    assert x.shape == (100, 2)
    assert (x == again).all()
    assert sorted(set(y.tolist())) == [-1.0, 1.0]
    assert (y == 1).sum() == 50


# ---- the verdicts, on made-up measurements --------------------------------------------------


def fake_run(ours_step: float, ours_bytes: float, big_chain_seconds: float) -> dict[str, Any]:
    """A run's JSON with chosen figures, micrograd taking 1 s per MLP step."""
    per_node = {n: 1e-7 * (1.2 if n == 10**6 else 1.0) for n in (10**3, 10**4, 10**5, 10**6)}
    chain = {
        str(n): {"tinygrad_edu": {"forward": [0.0], "backward": [t * n], "output": 1.0}}
        for n, t in per_node.items()
    }
    chain[str(10**6)]["tinygrad_edu"]["forward"] = [big_chain_seconds - 0.12]
    mlp = {"micrograd": {"step": [1.0, 1.0, 1.0]}, "tinygrad_edu": {"step": [ours_step]}}
    memory = {
        "tinygrad_edu": {"bytes": [ours_bytes * 100], "op_nodes": 100, "constant_leaves": 100}
    }
    return {
        "machine": {
            "cpu": "test",
            "cores": 1,
            "python": "3",
            "implementation": "CPython",
            "numpy": "2",
        },
        "plan": {
            "name": "test",
            "repeats": 1,
            "mlp_steps": 1,
            "mlp_points": 100,
            "tree_products": 10,
        },
        "engines": {e: {"available": True, "version": ""} for e in workloads.ENGINES},
        "results": {"mlp": {"on": mlp, "off": mlp}, "chain": chain, "tree": {}, "memory": memory},
        "wall_seconds": 1.0,
    }


def test_targets_pass_exactly_at_the_spec_numbers() -> None:
    rows = {
        description: verdict for description, _, verdict in report.targets(fake_run(0.1, 300, 2.99))
    }
    assert rows["MLP step >= 10x faster than micrograd, gc on"] == "PASS"
    assert rows["bytes per op node <= 300"] == "PASS"
    assert rows["bytes per node, constant leaves counted <= 300"] == "PASS"
    assert rows["1e6-node chain forward+backward < 3 s, default recursion limit"] == "PASS"
    assert rows["backward ns/node max/min <= 1.5 over 1e3..1e6 nodes"] == "PASS"


def test_targets_miss_just_past_the_spec_numbers() -> None:
    rows = {
        description: verdict for description, _, verdict in report.targets(fake_run(0.11, 301, 3.0))
    }
    assert rows["MLP step >= 10x faster than micrograd, gc on"] == "MISS"
    assert rows["MLP step >= 2x faster than micrograd, gc off"] == "PASS"
    assert rows["bytes per op node <= 300"] == "MISS"
    assert rows["bytes per node, constant leaves counted <= 300"] == "PASS"  # 150.5 B
    assert rows["1e6-node chain forward+backward < 3 s, default recursion limit"] == "MISS"


def test_a_recursion_error_on_the_big_chain_is_a_miss() -> None:
    data = fake_run(0.1, 200, 1.0)
    data["results"]["chain"][str(10**6)]["tinygrad_edu"] = {
        "error": "RecursionError",
        "message": "deep",
    }
    rows = {d: (measured, v) for d, measured, v in report.targets(data)}
    assert rows["1e6-node chain forward+backward < 3 s, default recursion limit"] == (
        "RecursionError",
        "MISS",
    )


def test_ratio_wording_says_faster_or_slower() -> None:
    assert report.comparison(1.0, 0.1) == "10.0x faster than micrograd"
    assert report.comparison(1.0, 2.5) == "2.5x slower than micrograd"


def test_markdown_report_has_pipe_tables() -> None:
    text = report.render(fake_run(0.1, 200, 1.0), markdown=True)
    assert "| figure | tinygrad_edu | micrograd | torch | floats |" in text
    assert "| MLP step, gc on (ms) | 100.0 | 1000.0 |" in text


# ---- the README's performance section ----------------------------------------------------

README_RUN = REPO_ROOT / "benchmarks" / "results" / "readme-run.json"
SUMMARY_START = "<!-- benchmarks/run.py --from-json benchmarks/results/readme-run.json --readme -->"
SUMMARY_END = "<!-- end of the benchmark summary -->"


def saved_run() -> dict[str, Any]:
    """The full run the README shows, as run.py saved it."""
    saved: dict[str, Any] = json.loads(README_RUN.read_text(encoding="utf-8"))
    return saved


def test_the_readme_shows_the_saved_full_run_as_the_script_renders_it() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert SUMMARY_START in readme and SUMMARY_END in readme, "the README lost its markers"
    shown = readme.split(SUMMARY_START, 1)[1].split(SUMMARY_END, 1)[0].strip()
    assert shown == report.readme_summary(saved_run())
    for label in report.README_ROWS:  # a misspelt row name would vanish without a trace
        assert f"| {label} |" in shown


def test_the_saved_run_is_a_full_run_on_which_all_engines_agree() -> None:
    saved = saved_run()
    # Through JSON, as the run was saved: tuples come back as lists.
    assert saved["plan"] == json.loads(json.dumps(dataclasses.asdict(run.PLANS["full"])))
    assert all(saved["engines"][e]["available"] for e in report.README_ENGINES)
    assert report.disagreements(saved) == []


def test_readme_flag_prints_the_summary_of_a_saved_run() -> None:
    finished = run_harness("--from-json", str(README_RUN), "--readme")
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == report.readme_summary(saved_run())
