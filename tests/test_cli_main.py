"""``tinygrad_edu.cli.main`` in process, where a test can take a renderer or a step away."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
import weakref
from pathlib import Path
from typing import NoReturn

import pytest

from tinygrad_edu import cli, expr, files, train, viz


def subcommands() -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def test_the_option_tables_of_the_expression_commands_match_their_parsers() -> None:
    # _expression_last relies on these tables to tell EXPR from an option's value.
    for name, parser in subcommands().items():
        if name not in cli._VALUE_OPTIONS:
            continue
        options = parser._option_string_actions
        with_values = {option for option, action in options.items() if action.nargs != 0}
        assert set(cli._VALUE_OPTIONS[name]) == with_values
        short = {option for option in options if not option.startswith("--")}
        assert set(cli._SHORT_OPTIONS[name]) == short
    assert set(cli._VALUE_OPTIONS) == {"graph", "gradcheck"}


def test_graph_without_any_graphviz_exits_2_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # render() uses `dot` when shutil.which finds it, else imports pygraphviz: take both away.
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "pygraphviz", None)  # None makes the import fail
    status = cli.main(["graph", "x*y", "--at", "x=2,y=3", "-o", str(tmp_path / "g.svg")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.splitlines() == [
        "tinygrad-edu: error: rendering needs Graphviz: install the Python wheel with "
        "'pip install pygraphviz' or the dot program (e.g. 'apt install graphviz', "
        "'brew install graphviz')"
    ]
    assert "f = x * y" in captured.out  # the table is printed before the picture is tried
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["graph", "gradcheck"])
def test_overflow_while_evaluating_exits_2_with_one_line(
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What the engine raises for x*y at x = y = 1e300 once products check for overflow.
    def overflow(*args: object) -> NoReturn:
        raise OverflowError("1e+300 * 1e+300 overflows a float")

    monkeypatch.setattr(expr.Expression, "evaluate", overflow)
    monkeypatch.chdir(tmp_path)
    status = cli.main([command, "x*y", "--at", "x=1e300,y=1e300"])
    assert status == 2
    assert capsys.readouterr().err == "tinygrad-edu: error: 1e+300 * 1e+300 overflows a float\n"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_training_stops_with_one_line_and_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", interrupted)
    status = cli.main(["train", "--epochs", "1000000000000"])
    assert status == 130  # 128 + SIGINT, what a shell reports for a run stopped by Ctrl-C
    assert capsys.readouterr().err == "tinygrad-edu: interrupted\n"


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_when_a_later_output_cannot_be_written_the_earlier_ones_are_put_back(
    failure: BaseException,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # All outputs or none (SPEC 7.1), even when a write fails after the checks passed
    # (a disk that fills up, Ctrl-C between two files).
    write_atomically = files.write_atomically

    def plot_fails(path: str | os.PathLike[str], content: bytes | str) -> Path:
        if Path(path).name == "loss.png":
            raise failure
        return write_atomically(path, content)

    monkeypatch.setattr(files, "write_atomically", plot_fails)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.json").write_text("the model of an earlier run")
    arguments = ["train", "--dataset", "xor", "--epochs", "1"]
    status = cli.main([*arguments, "--save", "old.json", "--plot", "loss.png"])
    assert status == (130 if isinstance(failure, KeyboardInterrupt) else 2)
    assert (tmp_path / "old.json").read_text() == "the model of an earlier run"
    status = cli.main([*arguments, "--save", "new.json", "--plot", "loss.png"])
    assert sorted(os.listdir(tmp_path)) == ["old.json"]  # new.json taken away again
    assert "saved the model" not in capsys.readouterr().out


class FullStdout:
    """A stdout on a full disk: writes are buffered, and the flush fails (as on /dev/full)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_stdout_ends_with_one_line_and_status_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", FullStdout())
    status = cli.main(["gradcheck", "x*y", "--at", "x=2,y=3"])
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "tinygrad-edu: error: cannot write to standard output: No space left on device"
    ]


def test_ctrl_c_that_python_drops_in_a_weakref_callback_still_stops_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python prints "Exception ignored" for an exception raised in a weakref callback and
    # goes on: without care, such a Ctrl-C is lost and the run carries on to the end.
    class Thing:
        pass

    def ctrl_c_in_a_callback(reference: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # lines of Python in the callback: the signal is handled here
            pass

    finished = []

    def fit(*args: object, **kwargs: object) -> NoReturn:
        thing = Thing()
        reference = weakref.ref(thing, ctrl_c_in_a_callback)
        del thing  # the callback runs now
        for _ in range(500):  # five seconds of "training", unless the Ctrl-C stops it
            time.sleep(0.01)
        finished.append(reference)
        raise AssertionError("the Ctrl-C did not stop the run")

    monkeypatch.setattr(train, "fit", fit)
    status = cli.main(["train", "--dataset", "xor", "--epochs", "1"])
    assert finished == []  # stopped, not only reported at the end
    assert status == 130
    assert capsys.readouterr().err == "tinygrad-edu: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
