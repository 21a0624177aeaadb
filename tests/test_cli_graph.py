"""``tinygrad-edu graph`` as a user runs it: a subprocess, its table, its picture, its errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A PATH without any system Graphviz: the default install must render on its own.
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", "graph", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_the_spec_example_prints_values_and_gradients_and_writes_the_svg(tmp_path: Path) -> None:
    result = run("tanh(x*w + b)", "--at", "x=2,w=-3,b=6.88", "-o", "neuron.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:-1]}
    out = math.tanh(2 * -3 + 6.88)
    slope = 1 - out**2  # d tanh(n) / dn, then each input gets slope times its partner
    assert float(rows["f"][0]) == pytest.approx(out, rel=1e-5)
    assert float(rows["x"][1]) == pytest.approx(slope * -3, rel=1e-5)
    assert float(rows["w"][1]) == pytest.approx(slope * 2, rel=1e-5)
    assert float(rows["b"][1]) == pytest.approx(slope, rel=1e-5)
    svg = ElementTree.parse(tmp_path / "neuron.svg")
    texts = [node.text for node in svg.iter() if node.tag.endswith("text")]
    for label in ("x", "w", "b", "f", "tanh", "data 2.0", "grad 0.501"):
        assert label in texts


def test_an_output_that_is_a_folder_or_only_a_suffix_exits_2_before_any_work(
    tmp_path: Path,
) -> None:
    (tmp_path / "graph.svg").mkdir()
    result = run("x", "--at", "x=1", "-o", "graph.svg", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "tinygrad-edu: error: -o cannot write graph.svg: it is a folder, not a regular file"
    ]
    result = run("x", "--at", "x=1", "-o", ".svg", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "tinygrad-edu: error: -o '.svg': give the file a name before .svg"
    ]
    assert os.listdir(tmp_path) == ["graph.svg"] and os.listdir(tmp_path / "graph.svg") == []


def test_png_output(tmp_path: Path) -> None:
    result = run("x * x", "--at", "x=3", "-o", "square.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "square.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["__import__('os').system('touch pwned')", "--at", "x=1"], "attribute"),
        (["__import__('os')", "--at", "x=1"], "__import__"),
        (["x.__class__", "--at", "x=1"], "attribute"),
        (["(lambda: 1)()", "--at", "x=1"], "lambda"),
        (["x[0]", "--at", "x=1"], "subscript"),
        (["[y for y in x]", "--at", "x=1"], "comprehension"),
        (["open('f')", "--at", "x=1"], "open"),
        (["9**9**9 * x", "--at", "x=1"], "exponent"),
        (["x * y", "--at", "x=1"], "missing --at value for 'y'"),
        (["x", "--at", "x=1,z=2"], "unknown name 'z'"),
        (["x +", "--at", "x=1"], "syntax"),
        (["x", "--at", "x=one"], "bad number"),
        (["log(x)", "--at", "x=-1"], "log(-1.0)"),
        (["x", "--at", "x=1", "-o", "graph.txt"], "must end in"),
        (["x", "--at", "x=1", "-o", "missing/graph.svg"], "folder does not exist"),
        (["x", "--at", "x=1", "--colour", "red"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_2_with_one_line(arguments: list[str], words: str, tmp_path: Path) -> None:
    result = run(*arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "Fontconfig" not in line]
    assert len(errors) == 1 and errors[0].startswith("tinygrad-edu: error:")
    assert words.lower() in errors[0].lower()
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing executed


@pytest.mark.parametrize(
    "arguments",
    [
        ["-x*y", "--at", "x=1,y=2"],  # EXPR first, as the usage line shows it
        ["--at", "x=1,y=2", "-o", "graph.svg", "-x*y"],  # EXPR last
        ["--at", "x=1,y=2", "--", "-x*y"],  # argparse's own "not an option" marker
        ["--", "-x*y", "--at", "x=1,y=2"],  # '--' right before EXPR, options after it
    ],
)
def test_an_expression_may_start_with_a_minus(arguments: list[str], tmp_path: Path) -> None:
    result = run(*arguments, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "f = -x * y"
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:-1]}
    assert rows["f"] == ["-2", "1"] and rows["x"] == ["1", "-2"] and rows["y"] == ["2", "-1"]
    assert (tmp_path / "graph.svg").is_file()
