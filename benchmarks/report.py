"""Turn the harness's measurements into the report: ratios, targets, medians, floor.

Pure formatting: everything here reads the JSON-able structure ``run.py`` builds, so a
saved ``--json`` file can be re-rendered and tested without timing anything.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

OURS = "tinygrad_edu"
BASELINE = "micrograd"
FLOOR = "floats"
AGREEMENT_TOLERANCE = 1e-9
CHECK_KEYS = ("loss", "grad_checksum", "output", "input_grad", "grad_sum")

# SPEC §8's numbers.
MLP_GC_ON_TARGET = 10.0
MLP_GC_OFF_TARGET = 2.0
BYTES_PER_NODE_TARGET = 300.0
BIG_CHAIN_NODES = 10**6
BIG_CHAIN_SECONDS_TARGET = 3.0
NS_PER_NODE_SPREAD_TARGET = 1.5
SPREAD_RANGE = (10**3, 10**6)

Entry = dict[str, Any]


def size_name(n: int) -> str:
    """1000 -> '1e3'; other numbers as they are."""
    exponent = round(math.log10(n)) if n > 0 else 0
    return f"1e{exponent}" if n >= 1000 and 10**exponent == n else str(n)


def median(entry: Entry | None, key: str) -> float | None:
    """The median of a measurement's samples, or None when it has none."""
    if not entry or key not in entry:
        return None
    samples = entry[key]
    return float(statistics.median(samples if isinstance(samples, list) else [samples]))


def median_total(entry: Entry | None) -> float | None:
    """The median of forward + backward, paired run by run."""
    if not entry or "forward" not in entry or "backward" not in entry:
        return None
    pairs = zip(entry["forward"], entry["backward"], strict=True)
    return float(statistics.median(f + b for f, b in pairs))


def bytes_per_node(entry: Entry | None, with_constants: bool) -> float | None:
    """Traced bytes per op node, or per node counting the constant leaves too."""
    growth = median(entry, "bytes")
    if entry is None or growth is None:
        return None
    nodes = entry["op_nodes"] + (entry["constant_leaves"] if with_constants else 0)
    return growth / float(nodes)


def failure(entry: Entry | None) -> str | None:
    """Why a measurement has no figure ('not installed', 'RecursionError' ...), or None."""
    if entry is None:
        return "not run"
    # The short reason before any detail: "not installed (No module named 'torch')".
    reason = str(entry.get("unavailable", entry.get("error", "")))
    return reason.split(" (")[0].split(":")[0] if reason else None


def backward_ns_per_node(chain: dict[str, dict[str, Entry]], engine: str) -> dict[int, float]:
    """Median backward nanoseconds per op node, by chain size."""
    per_node = {}
    for size, entries in chain.items():
        seconds = median(entries.get(engine), "backward")
        if seconds is not None:
            per_node[int(size)] = seconds * 1e9 / int(size)
    return per_node


def spread(per_node: dict[int, float]) -> float | None:
    """max/min of ns/node over the sizes in SPEC's range (1e3 to 1e6), if two or more."""
    inside = [v for n, v in per_node.items() if SPREAD_RANGE[0] <= n <= SPREAD_RANGE[1]]
    return max(inside) / min(inside) if len(inside) >= 2 else None


def comparison(baseline: float, other: float) -> str:
    """'11.3x faster than micrograd' or '2.0x slower than micrograd' (times; lower is better)."""
    ratio = baseline / other
    if ratio >= 1:
        return f"{ratio:.1f}x faster than {BASELINE}"
    return f"{1 / ratio:.1f}x slower than {BASELINE}"


# ---- sections ------------------------------------------------------------------------------


def ratio_lines(data: dict[str, Any]) -> list[str]:
    """Each engine against micrograd, from this same run."""
    results = data["results"]
    engines = [e for e in data["engines"] if e not in (BASELINE, FLOOR)]
    lines: list[str] = []
    if not data["engines"][BASELINE]["available"]:
        return [f"{BASELINE} is not installed: no ratios."]

    def add(
        title: str, figure: Callable[[Entry | None], float | None], entries: dict[str, Entry]
    ) -> None:
        base = figure(entries.get(BASELINE))
        parts = []
        for engine in engines:
            value = figure(entries.get(engine))
            if base is not None and value is not None:
                parts.append(f"{engine} {comparison(base, value)}")
            elif engine in entries or data["engines"][engine]["available"]:
                parts.append(f"{engine} {failure(entries.get(engine)) or 'n/a'}")
        if base is None:
            parts = [f"{BASELINE} {failure(entries.get(BASELINE))}"]
        lines.append(f"{title}: " + "; ".join(parts))

    for gc_mode in ("on", "off"):
        add(f"MLP step, gc {gc_mode}", lambda e: median(e, "step"), results["mlp"][gc_mode])
    chain = results["chain"]
    measured = [s for s in chain if median_total(chain[s].get(BASELINE)) is not None]
    if measured:
        size = max(measured, key=int)
        raised = (
            "recursion limit raised for micrograd"
            if "default_limit_error" in chain[size][BASELINE]
            else ""
        )
        title = f"chain {size_name(int(size))} forward+backward" + (
            f" ({raised})" if raised else ""
        )
        add(title, median_total, chain[size])
    add(
        f"tree of {size_name(data['plan']['tree_products'])} products, forward+backward",
        median_total,
        results["tree"],
    )
    memory = results["memory"]
    base_bytes = bytes_per_node(memory.get(BASELINE), with_constants=False)
    ours_bytes = bytes_per_node(memory.get(OURS), with_constants=False)
    if base_bytes is not None and ours_bytes is not None:
        lines.append(
            f"memory per op node: {OURS} uses {ours_bytes / base_bytes:.2f}x {BASELINE}'s bytes"
        )
    return lines


Target = tuple[str, str, str]  # description, measured figure, PASS / MISS / N/A


def targets(data: dict[str, Any]) -> list[Target]:
    """SPEC §8's targets for tinygrad_edu, each with the figure measured in this run."""
    results = data["results"]
    rows: list[Target] = []
    for gc_mode, goal in (("on", MLP_GC_ON_TARGET), ("off", MLP_GC_OFF_TARGET)):
        entries = results["mlp"][gc_mode]
        base, ours = median(entries.get(BASELINE), "step"), median(entries.get(OURS), "step")
        description = f"MLP step >= {goal:g}x faster than micrograd, gc {gc_mode}"
        if base is None or ours is None:
            reason = (
                failure(entries.get(OURS))
                if ours is None
                else f"{BASELINE} {failure(entries.get(BASELINE))}"
            )
            rows.append((description, f"not measured ({reason})", "N/A"))
        else:
            rows.append((description, f"{base / ours:.1f}x", verdict(base / ours >= goal)))
    for with_constants in (False, True):
        kind = "node, constant leaves counted" if with_constants else "op node"
        description = f"bytes per {kind} <= {BYTES_PER_NODE_TARGET:g}"
        value = bytes_per_node(results["memory"].get(OURS), with_constants)
        if value is None:
            rows.append(
                (description, f"not measured ({failure(results['memory'].get(OURS))})", "N/A")
            )
        else:
            rows.append((description, f"{value:.0f} B", verdict(value <= BYTES_PER_NODE_TARGET)))
    description = (
        f"1e6-node chain forward+backward < {BIG_CHAIN_SECONDS_TARGET:g} s, default recursion limit"
    )
    big = results["chain"].get(str(BIG_CHAIN_NODES), {}).get(OURS)
    total = median_total(big)
    if big is None:
        rows.append((description, "not run at this size", "N/A"))
    elif total is None or "default_limit_error" in big:  # it failed at the default limit
        rows.append((description, failure(big) or "RecursionError", "MISS"))
    else:
        rows.append((description, f"{total:.2f} s", verdict(total < BIG_CHAIN_SECONDS_TARGET)))
    description = f"backward ns/node max/min <= {NS_PER_NODE_SPREAD_TARGET:g} over 1e3..1e6 nodes"
    per_node = backward_ns_per_node(results["chain"], OURS)
    value = spread(per_node) if set(SPREAD_RANGE) <= set(per_node) else None
    if value is None:
        measured = ", ".join(size_name(n) for n in sorted(per_node)) or "none"
        rows.append((description, f"needs 1e3 and 1e6 (measured: {measured})", "N/A"))
    else:
        rows.append((description, f"{value:.2f}x", verdict(value <= NS_PER_NODE_SPREAD_TARGET)))
    return rows


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def disagreements(data: dict[str, Any]) -> list[str]:
    """Check numbers (losses, outputs, gradient sums) on which two engines differ."""
    results = data["results"]
    groups: list[tuple[str, dict[str, Entry]]] = [
        (f"MLP step, gc {gc_mode}", results["mlp"][gc_mode]) for gc_mode in ("on", "off")
    ]
    groups += [(f"chain {size_name(int(s))}", entries) for s, entries in results["chain"].items()]
    groups.append(("tree", results["tree"]))
    problems = []
    for title, entries in groups:
        for key in CHECK_KEYS:
            values = {e: entry[key] for e, entry in entries.items() if key in entry}
            if len(values) < 2:
                continue
            reference_engine, reference = next(iter(values.items()))
            for engine, value in values.items():
                if not math.isclose(value, reference, rel_tol=AGREEMENT_TOLERANCE, abs_tol=1e-12):
                    problems.append(
                        f"{title}: {key} {engine}={value!r} but {reference_engine}={reference!r}"
                    )
    return problems


def table_rows(data: dict[str, Any]) -> list[list[str]]:
    """The table of medians: one row per figure, one column per engine."""
    results = data["results"]
    engines = list(data["engines"])
    rows: list[list[str]] = []

    def row(label: str, figure: Callable[[str], str]) -> None:
        rows.append([label, *[figure(e) for e in engines]])

    def timed(
        entries: dict[str, Entry], key: str, scale: float, digits: int
    ) -> Callable[[str], str]:
        def figure(engine: str) -> str:
            entry = entries.get(engine)
            value = median_total(entry) if key == "total" else median(entry, key)
            if value is None:
                if not data["engines"][engine]["available"]:
                    return "not installed"
                reason = failure(entry)
                return reason if reason else "—"
            mark = " †" if entry and "default_limit_error" in entry else ""
            return f"{value * scale:.{digits}f}{mark}"

        return figure

    for gc_mode in ("on", "off"):
        row(f"MLP step, gc {gc_mode} (ms)", timed(results["mlp"][gc_mode], "step", 1e3, 1))

    def mlp_nodes(engine: str) -> str:
        entry = results["mlp"]["on"].get(engine) or {}
        return f"{entry['op_nodes']}" if "op_nodes" in entry else "—"

    row("MLP step: op nodes in the graph", mlp_nodes)
    chain = results["chain"]
    for size in sorted(chain, key=int):
        name = size_name(int(size))
        row(f"chain {name}: forward (ms)", timed(chain[size], "forward", 1e3, 2))
        row(f"chain {name}: backward (ms)", timed(chain[size], "backward", 1e3, 2))
        per_node = timed(chain[size], "backward", 1e9 / int(size), 0)
        row(f"chain {name}: backward ns/node", per_node)
    biggest = max(chain, key=int) if chain else None
    if biggest is not None:

        def at_default_limit(engine: str) -> str:
            entry = chain[biggest].get(engine)
            if entry is not None and "default_limit_error" in entry:
                return "RecursionError"
            return timed(chain[biggest], "total", 1e3, 1)(engine)

        row(
            f"chain {size_name(int(biggest))}: fwd+bwd (ms), default recursion limit",
            at_default_limit,
        )

    def ns_spread(engine: str) -> str:
        value = spread(backward_ns_per_node(chain, engine))
        return "—" if value is None else f"{value:.2f}x"

    row("backward ns/node, max/min over N", ns_spread)
    tree = results["tree"]
    products = size_name(data["plan"]["tree_products"])
    row(f"tree of {products} products: forward (ms)", timed(tree, "forward", 1e3, 1))
    row(f"tree of {products} products: backward (ms)", timed(tree, "backward", 1e3, 1))
    memory = results["memory"]
    for with_constants in (False, True):

        def per_node(engine: str, with_constants: bool = with_constants) -> str:
            value = bytes_per_node(memory.get(engine), with_constants)
            if value is not None:
                return f"{value:.0f}"
            return "not installed" if not data["engines"][engine]["available"] else "n/a"

        label = "bytes per node incl. constant leaves" if with_constants else "bytes per op node"
        row(label, per_node)
    return rows


def floor_lines(data: dict[str, Any]) -> list[str]:
    """Each engine's time as a multiple of plain floats doing the same forward arithmetic."""
    results = data["results"]
    engines = [e for e in data["engines"] if e != FLOOR]
    lines = []

    def add(title: str, floor: float | None, figure: Callable[[str], float | None]) -> None:
        if floor is None:
            lines.append(f"{title}: no float floor measured")
            return
        parts = [f"{e} {value / floor:.0f}x" for e in engines if (value := figure(e)) is not None]
        lines.append(f"{title}: floats {floor * 1e3:.2f} ms; " + ", ".join(parts))

    mlp = results["mlp"]["on"]
    add(
        "MLP step (gc on) vs float forward+loss",
        median(mlp.get(FLOOR), "step"),
        lambda e: median(mlp.get(e), "step"),
    )
    chain = results["chain"]
    if chain:
        size = max((s for s in chain if FLOOR in chain[s]), key=int, default=None)
        if size is not None:
            entries = chain[size]
            add(
                f"chain {size_name(int(size))} forward",
                median(entries.get(FLOOR), "forward"),
                lambda e: median(entries.get(e), "forward"),
            )
    tree = results["tree"]
    add(
        "tree forward",
        median(tree.get(FLOOR), "forward"),
        lambda e: median(tree.get(e), "forward"),
    )
    return lines


def notes(data: dict[str, Any]) -> list[str]:
    """What the numbers mean and how they were taken."""
    plan = data["plan"]
    lines = [
        f"Medians over {plan['repeats']} fresh process(es) per measurement; MLP: "
        f"{plan['mlp_steps']} timed step(s) per process after one warm-up step, "
        f"{plan['mlp_points']} moons points. MLP and tree: engines take turns, one process "
        "each per round, so a busy spell on the machine slows them alike; chains: per round, "
        "each engine runs all its sizes back to back.",
        "gc off: gc.disable() in the benchmark process only; gc.collect() runs between steps, "
        "outside the timer, so micrograd's graph is freed there while tinygrad_edu's is freed "
        "by reference counting inside the timed step.",
        "Chains and trees run with the garbage collector on, as users run them.",
        "† RecursionError at the default recursion limit; measured with "
        "sys.setrecursionlimit(10**7) in a thread with a 1 GiB stack.",
        "floats: the same forward arithmetic on Python floats, no graph and no backward "
        "(the floor).",
        "Memory: tracemalloc growth while building the chain (nodes, their floats, input "
        "containers, closures); PyTorch's graph lives in C++ allocations tracemalloc cannot "
        "see, so it is n/a.",
    ]
    for engine, status in data["engines"].items():
        if not status["available"]:
            lines.append(f"{engine}: {status['reason']}; skipped.")
    return lines


# The rows of the medians table the README shows, and the engines it compares.
README_ROWS = (
    "MLP step, gc on (ms)",
    "MLP step, gc off (ms)",
    "MLP step: op nodes in the graph",
    "chain 1e6: fwd+bwd (ms), default recursion limit",
    "chain 1e3: backward ns/node",
    "chain 1e6: backward ns/node",
    "bytes per op node",
)
README_ENGINES = (OURS, BASELINE, "torch")


def readme_summary(data: dict[str, Any]) -> str:
    """The README's performance section body: the machine, the targets, the key medians.

    Every figure is rendered from a saved run, so the README can be checked against it.
    """
    m = data["machine"]
    when = f" on {data['date']}" if "date" in data else ""
    lines = [
        f"A {data['plan']['name']} run{when} on {m['cpu']}, {m['cores']} cores, "
        f"{m['implementation']} {m['python']} ({data['wall_seconds']:.0f} s):",
        "",
        *markdown_table([["SPEC §8 target", "measured", "verdict"], *map(list, targets(data))]),
        "",
    ]
    columns = [i for i, e in enumerate(data["engines"]) if e in README_ENGINES]
    rows = [[r[0], *[r[1 + i] for i in columns]] for r in table_rows(data) if r[0] in README_ROWS]
    head = ["figure", *[list(data["engines"])[i] for i in columns]]
    lines += markdown_table([head, *rows])
    if any("†" in cell for row in rows for cell in row):
        lines += ["", "† RecursionError at the default recursion limit; measured with it raised."]
    lines += ["", "Distance to the plain-float floor (the same forward arithmetic, no graph):", ""]
    lines += [f"- {line}" for line in floor_lines(data)]
    return "\n".join(lines)


# ---- layout --------------------------------------------------------------------------------


def header(data: dict[str, Any]) -> list[str]:
    m = data["machine"]
    engines = ", ".join(
        f"{name} {status.get('version', '')}".strip()
        for name, status in data["engines"].items()
        if status["available"]
    )
    load = m.get("load_average")
    busy = "" if load is None else f", load average {load:.2f} at the start"
    return [
        f"tinygrad_edu benchmarks ({data['plan']['name']} run, {data['wall_seconds']:.0f} s)",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['implementation']} {m['python']}, "
        f"numpy {m['numpy']}{busy}",
        f"Engines: {engines}",
    ]


def text_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]


def markdown_table(rows: list[list[str]]) -> list[str]:
    head, *body = rows
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    return lines + ["| " + " | ".join(r) + " |" for r in body]


def render(data: dict[str, Any], markdown: bool = False) -> str:
    """The whole report, as plain text or markdown."""
    table = text_table if not markdown else markdown_table
    bullet = "- " if markdown else "  "
    out: list[str] = []

    def section(title: str) -> None:
        out.extend(["", f"### {title}", ""] if markdown else ["", title])

    title, *details = header(data)
    out.append(f"**{title}**\n" if markdown else title)
    out.extend(bullet + line if markdown else line for line in details)
    section(f"Ratios to {BASELINE} (same run)")
    out.extend(bullet + line for line in ratio_lines(data))
    section("Targets (SPEC §8)")
    out.extend(table([["target", "measured", "verdict"], *[list(t) for t in targets(data)]]))
    problems = disagreements(data)
    section("Checks")
    if problems:
        out.extend(bullet + "DISAGREE " + p for p in problems)
    else:
        tolerance = f"relative {AGREEMENT_TOLERANCE:g}"
        out.append(
            f"{bullet}all engines agree on every loss, output and gradient sum ({tolerance})"
        )
    section("Medians")
    out.extend(table([["figure", *data["engines"]], *table_rows(data)]))
    section("Distance to the plain-float floor")
    out.extend(bullet + line for line in floor_lines(data))
    section("Notes")
    out.extend(bullet + line for line in notes(data))
    return "\n".join(out)
