"""Every claim in the README runs here: its commands, its examples, its printed numbers."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.DOTALL)
PYTHON_BLOCKS = [code for language, code in BLOCKS if language == "python"]
CONSOLE_BLOCKS = [code for language, code in BLOCKS if language == "console"]


def test_the_first_block_holds_exactly_the_two_commands_ci_runs() -> None:
    language, code = BLOCKS[0]
    lines = code.strip().splitlines()
    assert language == "bash" and len(lines) == 2
    install_and_train, install_and_test = lines
    assert "tinygrad-edu train --plot" in install_and_train
    # The suite runs in parallel (pytest-xdist, a dev dependency) on every core there is.
    assert install_and_test.endswith("python -m pytest -n auto")
    assert "sed -n 2p" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def expected_output(code: str) -> list[str]:
    """What the block says it prints: the text after ``# -> `` on each print line."""
    return [line.split("# -> ", 1)[1] for line in code.splitlines() if "# -> " in line]


@pytest.mark.parametrize(
    "code", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))]
)
def test_python_examples_run_and_print_what_they_say(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # examples may write files (model.json, neuron.svg)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert printed.getvalue().splitlines() == expected_output(code)


@pytest.mark.parametrize(
    "block", CONSOLE_BLOCKS, ids=[f"console{i}" for i in range(len(CONSOLE_BLOCKS))]
)
def test_console_examples_print_what_they_say(block: str, tmp_path: Path) -> None:
    command, *expected = block.rstrip("\n").splitlines()
    program, *arguments = shlex.split(command.removeprefix("$ "))
    assert program == "tinygrad-edu"
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert result.stdout.splitlines() == expected


def test_every_picture_the_readme_shows_exists() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert pictures
    for picture in pictures:
        assert (ROOT / picture).is_file(), picture


def test_the_notebook_list_names_every_notebook_in_order() -> None:
    listed = re.findall(r"^\s*\d+\. `(\d\d_\w+)`", README, re.MULTILINE)
    notebooks = sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert listed == notebooks
