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
    command = commands.add_parser(
        "gradcheck",
        help="compare backward with finite differences",
        description="Compare the engine's gradient of EXPR with central differences; "
        "exit 1 when a gradient does not match or does not exist at the point.",
    )
    command.add_argument("expression", metavar="EXPR", help='for example "tanh(x*w + b)"')
    command.add_argument(
        "--at", default="", metavar="NAME=NUMBER,...", help="the point, e.g. x=2,w=-3,b=6.88"
    )
    command.add_argument("--eps", type=float, default=1e-6, help="finite-difference step")
    command.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance")
    command.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance")
    command.add_argument(
        "--second", action="store_true", help="also check second derivatives (gradgradcheck)"
    )
    command.set_defaults(run=_run_gradcheck)


def _gradcheck_point(variables: Sequence[str], at: str) -> list[float]:
    """The --at values in the expression's variable order; bad or missing names exit 2."""
    from tinygrad_edu.expr import parse_assignments

    if not variables:
        raise UsageError("the expression has no variables: there is no gradient to check")
    assignments = parse_assignments(at)
    uses = ", ".join(variables)
    for name in assignments:
        if name not in variables:
            raise UsageError(f"unknown name {name!r} in --at (the expression uses {uses})")
    for name in variables:
        if name not in assignments:
            raise UsageError(f"missing --at value for {name!r} (the expression uses {uses})")
    return [assignments[name] for name in variables]


def _run_gradcheck(args: argparse.Namespace) -> int:
    # Imported here so that this command's dependencies stay out of the others' startup.
    from tinygrad_edu.expr import parse_expression
    from tinygrad_edu.gradcheck import gradcheck, gradgradcheck

    expression = parse_expression(args.expression)
    point = _gradcheck_point(expression.variables, args.at)
    settings = {"eps": args.eps, "atol": args.atol, "rtol": args.rtol}
    report = gradcheck(expression, point, names=expression.variables, **settings)
    where = ", ".join(f"{name}={x:g}" for name, x in zip(expression.variables, point, strict=True))
    print(f"f = {expression.formula}")
    print(f"at {where}: f = {float(expression(*point)):.10g}")
    print()
    print(report)
    passed = report.passed
    if args.second:
        second = gradgradcheck(expression, point, names=expression.variables, **settings)
        print()
        print(second)
        passed = passed and second.passed
    return 0 if passed else 1
