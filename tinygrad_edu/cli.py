"""The ``tinygrad-edu`` command line: ``train``, ``graph`` and ``gradcheck``.

Bad input of any kind exits with status 2 and a one-line message on stderr, never a
traceback; ``gradcheck`` exits 1 when a gradient does not match.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

PROG = "tinygrad-edu"


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage; one line is what a user needs.
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = _Parser(prog=PROG, description="Learn backpropagation by doing it.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    _add_train_command(commands)
    _add_graph_command(commands)
    _add_gradcheck_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments:
        arguments = ["train"]  # SPEC: runs with no arguments on a sensible default
    try:
        args = parser.parse_args(arguments)
        status: int = args.run(args)
    except (UsageError, ValueError, TypeError, OSError, ArithmeticError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return status


# ---- train ------------------------------------------------------------------------------


def _add_train_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("train", help="train an MLP on a small dataset")
    command.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    raise UsageError("train is not built yet")


# ---- graph ------------------------------------------------------------------------------


def _add_graph_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("graph", help="evaluate an expression, backprop, draw it")
    command.set_defaults(run=_run_graph)


def _run_graph(args: argparse.Namespace) -> int:
    raise UsageError("graph is not built yet")


# ---- gradcheck --------------------------------------------------------------------------


def _add_gradcheck_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser("gradcheck", help="compare backward with finite differences")
    command.set_defaults(run=_run_gradcheck)


def _run_gradcheck(args: argparse.Namespace) -> int:
    raise UsageError("gradcheck is not built yet")
