"""``tinygrad-edu gradcheck`` as a user runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", "gradcheck", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_a_matching_gradient_prints_the_table_and_exits_0() -> None:
    result = run("tanh(x*w + b)", "--at", "x=2,w=-3,b=6.88")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "f = tanh(x * w + b)"
    assert "input" in result.stdout and "analytic" in result.stdout and "rel err" in result.stdout
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(("b ", "w ", "x "))}
    # d/dx tanh(xw + b) = w (1 - tanh^2), checkable by hand.
    slope = 1.0 - math.tanh(2.0 * -3.0 + 6.88) ** 2
    assert float(rows["x"][1]) == pytest.approx(-3.0 * slope, rel=1e-9)
    assert rows["x"][-1] == "yes"
    assert lines[-1].startswith("gradcheck passed: 3 of 3 gradients match")


def test_no_derivative_exits_1_and_says_why() -> None:
    result = run("relu(x)", "--at", "x=0")
    assert result.returncode == 1
    assert "no derivative here: left slope 0, right slope 1" in result.stdout
    assert result.stderr == ""


def test_a_plain_mismatch_exits_1() -> None:
    # A step of 0.5 makes the central difference 4% off: a mismatch, not a kink.
    result = run("exp(x)", "--at", "x=0", "--eps", "0.5")
    assert result.returncode == 1
    assert "NO" in result.stdout and "no derivative" not in result.stdout
    assert run("exp(x)", "--at", "x=0", "--eps", "0.5", "--rtol", "0.05").returncode == 0


def test_second_derivatives_on_request() -> None:
    result = run("x * relu(x)", "--at", "x=0", "--second")
    assert result.returncode == 1
    assert "gradcheck passed" in result.stdout
    assert "gradgradcheck FAILED" in result.stdout
    assert run("x * y", "--at", "x=2,y=3", "--second").returncode == 0


@pytest.mark.parametrize(
    "arguments",
    [
        ["-x*y", "--at", "x=1,y=2"],
        ["--at", "x=1,y=2", "--rtol", "1e-3", "-x*y"],
        ["--at", "x=1,y=2", "--", "-x*y"],
        ["--", "-x*y", "--at", "x=1,y=2", "--second"],
    ],
)
def test_an_expression_may_start_with_a_minus(arguments: list[str]) -> None:
    result = run(*arguments)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("f = -x * y\nat x=1, y=2: f = -2\n")


def test_a_domain_edge_next_to_the_point_exits_1() -> None:
    result = run("sqrt(x)", "--at", "x=0")
    assert result.returncode == 1
    assert "no finite difference" in result.stdout


BAD_INPUT = [
    (["tanh(x*w + b)", "--at", "x=2,w=-3"], "missing --at value for 'b'"),
    (["tanh(x*w)", "--at", "x=2,w=-3,z=1"], "unknown name 'z' in --at"),
    (["foo(x)", "--at", "x=1"], "unknown function 'foo'"),
    (["x*", "--at", "x=1"], "syntax error"),
    (["x", "--at", "x=abc"], "bad number for x"),
    (["x", "--at", "x"], "expected name=number"),
    (["x", "--at", "x=1", "--eps", "foo"], "invalid float value: 'foo'"),
    (["x", "--at", "x=1", "--eps", "0"], "eps must be a positive"),
    (["x", "--at", "x=1", "--eps", "-1"], "eps must be a positive"),  # a value, not EXPR
    (["-x", "-y", "--at", "x=1,y=2"], "unrecognized arguments: -y"),
    (["--at", "x=1", "--"], "the following arguments are required: EXPR"),
    (["x", "--at", "x=1", "--bogus"], "unrecognized arguments: --bogus"),
    (["x.__class__", "--at", "x=1"], "attribute access"),
    (["__import__('os').system('echo pwned')"], "attribute access"),
    (["9**9**9"], "exponent too large"),
    (["2 * 3"], "no variables"),
    (["log(x)", "--at", "x=-1"], "log(-1.0)"),
    ([], "the following arguments are required: EXPR"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_INPUT)
def test_bad_input_exits_2_with_one_line(arguments: list[str], message: str) -> None:
    result = run(*arguments)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("tinygrad-edu: error: ")
    assert message in result.stderr
    assert "pwned" not in result.stderr


def test_a_reader_that_goes_away_ends_with_one_line_and_status_141() -> None:
    # `tinygrad-edu gradcheck ... | head -0`: the pipe is closed before anything is written.
    # SPEC 7.1: a closed stdout is said in one line on stderr, never passed over in silence.
    process = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_edu", "gradcheck", "x*y", "--at", "x=2,y=3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141  # 128 + SIGPIPE, as a shell reports it
    assert stderr.splitlines() == ["tinygrad-edu: error: the reader of standard output went away"]


@pytest.mark.parametrize(
    ("arguments", "unrecognized"),
    [
        (("x*y", "-at", "x=1,y=2"), "-at x=1,y=2"),
        (("x*y", "--at", "x=1,y=2", "-eps", "1e-3"), "-eps 1e-3"),
    ],
)
def test_a_mistyped_option_is_quoted_as_typed(
    arguments: tuple[str, ...], unrecognized: str
) -> None:
    # Leading-minus expressions are moved behind '--' for argparse; that must not show here.
    result = run(*arguments)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"tinygrad-edu: error: unrecognized arguments: {unrecognized} (see 'tinygrad-edu --help')"
    ]


def test_arithmetic_that_overflows_exits_2_with_one_line() -> None:
    # The real engine, not a stub: 1e300 * 1e300 is not a float.
    result = run("x*y", "--at", "x=1e300,y=1e300")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "tinygrad-edu: error: 1e+300 * 1e+300 overflows a float (result inf)"
    ]
