"""The ``tinygrad-edu`` command line: ``train``, ``graph`` and ``gradcheck``.

Bad input of any kind exits with status 2 and a one-line message on stderr, never a
traceback, and so does a missing Graphviz renderer (the message says how to install
one); ``gradcheck`` exits 1 when a gradient does not match; Ctrl-C exits 130. A closed
output pipe (``| head``) stops the command where it is, quietly and with status 141, as
SIGPIPE stops any Unix tool: ``train --save`` or ``graph -o`` may then write nothing.
"""

from __future__ import annotations

import argparse
import os
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
    arguments = _expression_last(arguments)
    try:
        args = parser.parse_args(arguments)
        status: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (``tinygrad-edu train | head -1``): nothing is wrong, and no
        # one is left to tell. Point stdout at devnull so the flush at exit stays quiet too,
        # and exit as a shell reports a process that SIGPIPE stopped (128 + 13).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (UsageError, ValueError, TypeError, OSError, ArithmeticError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C, say during a long training run: the status a shell gives for SIGINT.
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return status


# ---- train ------------------------------------------------------------------------------

_DATASETS = ("moons", "circles", "xor", "parity", "iris", "digits", "mnist")
_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad")
_LOSS_NAMES = ("hinge", "ce", "mse", "bce")
# Learning rates that work for each optimiser when the dataset's own default is not used.
_DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 0.01, "rmsprop": 0.01, "adagrad": 0.1}
# Per dataset: settings that train well in seconds here (measured; see the report in git).
_DATASET_DEFAULTS: dict[str, dict[str, object]] = {
    "moons": dict(hidden=[16, 16], activation="relu", loss="hinge", optimizer="sgd",
                  lr=0.3, epochs=50, batch_size=10),
    "circles": dict(hidden=[16, 16], activation="relu", loss="hinge", optimizer="sgd",
                    lr=0.3, epochs=50, batch_size=10),
    "xor": dict(hidden=[8], activation="relu", loss="hinge", optimizer="sgd",
                lr=0.3, epochs=50, batch_size=10),
    "parity": dict(hidden=[3], activation="sigmoid", loss="ce", optimizer="adam",
                   lr=0.1, epochs=5, batch_size=16),
    "iris": dict(hidden=[8, 9], activation="relu", loss="ce", optimizer="adam",
                 lr=0.01, epochs=100, batch_size=None),
    "digits": dict(hidden=[32], activation="relu", loss="ce", optimizer="adam",
                   lr=0.01, epochs=1, batch_size=16),
}  # fmt: skip
_SYNTHETIC_POINTS = 100


def _add_train_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser(
        "train",
        help="train an MLP on a small dataset",
        description="Train an MLP and report the test accuracy. Options left out take the "
        "dataset's defaults (moons: MLP(2, [16, 16, 1]), hinge loss, SGD).",
    )
    command.add_argument("--dataset", choices=_DATASETS, default="moons")
    command.add_argument("--hidden", type=_hidden_sizes, help="hidden layer sizes, e.g. 16,16")
    command.add_argument("--activation", choices=("relu", "tanh", "sigmoid", "linear"))
    command.add_argument("--loss", choices=_LOSS_NAMES)
    command.add_argument("--optimizer", choices=_OPTIMIZERS)
    command.add_argument("--lr", type=_positive_float, help="learning rate")
    command.add_argument("--epochs", type=_positive_int)
    command.add_argument("--batch-size", type=_positive_int, help="default: dataset's own")
    command.add_argument(
        "--seed", type=_seed, default=0, help="data, split, init: an integer >= 0 (default 0)"
    )
    command.add_argument("--save", metavar="MODEL.json", help="write the trained model")
    command.add_argument("--plot", metavar="LOSS.png", help="write the loss curve (png/svg/pdf)")
    command.add_argument(
        "--engine", choices=("scalar", "tensor"), default="scalar",
        help="scalar (default: the engine the lessons build) or tensor (batched, much faster); "
        "mnist always uses tensor",
    )  # fmt: skip
    command.set_defaults(run=_run_train)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0.0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


def _seed(text: str) -> int:
    # numpy's generators take any integer >= 0, however large, and no negative one.
    problem = f"{text!r} is not a non-negative integer"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if value < 0:
        raise argparse.ArgumentTypeError(problem)
    return value


def _hidden_sizes(text: str) -> list[int]:
    if not text.strip():
        return []  # no hidden layer: a linear model
    try:
        return [_positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of positive layer sizes like 16,16"
        ) from None


def _run_train(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm.auto import tqdm

    from tinygrad_edu import data, optim
    from tinygrad_edu.nn import MLP
    from tinygrad_edu.nn.modules import MAX_PARAMETERS, count_parameters
    from tinygrad_edu.train import evaluate, fit, plot_training

    # Checked now, not after minutes of training.
    for option, suffixes in (("plot", (".png", ".svg", ".pdf")), ("save", (".json",))):
        if getattr(args, option) is not None:
            _check_output_path(f"--{option}", getattr(args, option), suffixes)
    if args.dataset == "mnist":  # the seeds' 784-32-10 recipe, on the Tensor engine (SPEC §11)
        from tinygrad_edu.tensor.mnist import run_train_command

        return run_train_command(args)
    defaults = _DATASET_DEFAULTS[args.dataset]
    if args.lr is None and args.optimizer not in (None, defaults["optimizer"]):
        args.lr = _DEFAULT_LR[args.optimizer]
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    loaders = {
        "moons": lambda: data.make_moons(_SYNTHETIC_POINTS, seed=args.seed),
        "circles": lambda: data.make_circles(_SYNTHETIC_POINTS, seed=args.seed),
        "xor": lambda: data.make_xor(_SYNTHETIC_POINTS, seed=args.seed),
        "parity": lambda: data.parity_bits(10),
        "iris": data.load_iris,
        "digits": data.load_digits,
    }
    X, y = loaders[args.dataset]()
    if args.dataset == "digits":
        X = X / 16.0  # pixel counts 0-16 scaled to [0, 1]
    classes = int(np.max(y)) + 1
    if args.loss in ("hinge", "bce") and classes != 2:
        raise UsageError(
            f"--loss {args.loss} needs 2 classes but {args.dataset} has {classes}; use --loss ce"
        )
    two_class_output = args.loss in ("hinge", "bce") or (args.loss == "mse" and classes == 2)
    sizes = [*args.hidden, 1 if two_class_output else classes]
    count = count_parameters(X.shape[1], sizes)
    if count > MAX_PARAMETERS:  # the limit a saved model has; building it would exhaust memory
        raise UsageError(
            f"--hidden {','.join(map(str, args.hidden))}: {count} parameters, more than the "
            f"limit of {MAX_PARAMETERS} (a scalar engine would take hours per epoch)"
        )
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, seed=args.seed)
    if args.engine == "tensor":  # the same network on the batched engine (SPEC §11)
        from tinygrad_edu.tensor.nn import MLP  # type: ignore[assignment]
    model = MLP(
        X.shape[1],
        sizes,
        activation=args.activation,
        output_activation="sigmoid" if args.loss == "bce" else "linear",
        seed=args.seed,
    )
    optimizer: optim.Optimizer
    if args.optimizer in ("sgd", "momentum"):
        momentum = 0.9 if args.optimizer == "momentum" else 0.0
        optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=momentum)
    elif args.optimizer == "adam":
        optimizer = optim.Adam(model.parameters(), lr=args.lr)
    elif args.optimizer == "rmsprop":
        optimizer = optim.RMSprop(model.parameters(), lr=args.lr)
    else:
        optimizer = optim.Adagrad(model.parameters(), lr=args.lr)
    print(
        f"{args.dataset}: {len(X_train)} training and {len(X_test)} test examples; "
        f"MLP({X.shape[1]}, {sizes}) {args.activation}, {args.loss} loss, "
        f"{args.optimizer} lr={args.lr:g}, {args.epochs} epochs, batch size {args.batch_size}"
    )

    def report(epoch: int, loss: float, accuracy: float) -> None:
        # tqdm.write keeps the progress bar (on stderr) below the printed lines.
        tqdm.write(f"epoch {epoch:3d}/{args.epochs}  loss {loss:.4f}  accuracy {accuracy:.3f}")

    history = fit(
        model, X_train, y_train, loss=args.loss, optimizer=optimizer, epochs=args.epochs,
        batch_size=args.batch_size, seed=args.seed, on_epoch=report,
    )  # fmt: skip
    result = evaluate(model, X_test, y_test, loss=args.loss)
    print(f"test accuracy {result.accuracy:.3f} on {len(X_test)} examples")
    if args.save is not None:
        model.save(args.save)
        print(f"saved the model to {args.save}")
    if args.plot is not None:
        if X.shape[1] == 2:
            plot_training(args.plot, history, model=model, X=X, y=y, loss=args.loss)
        else:
            plot_training(args.plot, history)
        print(f"wrote {args.plot}")
    return 0


# ---- graph ------------------------------------------------------------------------------


def _add_graph_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser(
        "graph",
        help="evaluate an expression, backprop, draw it",
        description="Evaluate EXPR at the --at point, run backward, print every variable's "
        "value and gradient, and draw the graph (svg, png or pdf from the -o suffix).",
    )
    _add_expression_arguments(command)
    command.add_argument(
        "-o", "--output", default="graph.svg", metavar="FILE", help="default: graph.svg"
    )
    command.set_defaults(run=_run_graph)


def _run_graph(args: argparse.Namespace) -> int:
    from tinygrad_edu import Value
    from tinygrad_edu.expr import parse_expression
    from tinygrad_edu.viz import RENDER_FORMATS, GraphvizNotFoundError, draw_dot, render

    _check_output_path("-o", args.output, [f".{suffix}" for suffix in RENDER_FORMATS])
    expression = parse_expression(args.expression)
    names = expression.variables
    point = _values_at(names, args.at)
    inputs = {name: Value(x, label=name) for name, x in zip(names, point, strict=True)}
    output = expression.evaluate(inputs)
    if not isinstance(output, Value) or not output.requires_grad:
        raise UsageError("the expression does not depend on any variable: nothing to backprop")
    if not output.label:  # f = x is the variable x itself: keep its name
        output.label = "f"
    output.backward()
    print(f"f = {expression.formula}")
    width = max(len(name) for name in ["name", *inputs, "f"])
    print(f"{'name':<{width}}  {'value':>12}  {'d f / d name':>14}")
    for name, value in [*inputs.items(), ("f", output)]:
        print(f"{name:<{width}}  {value.data:>12.6g}  {value.grad:>14.6g}")
    try:
        path = render(draw_dot(output), args.output)
    except GraphvizNotFoundError as error:  # its message is the install hint, in one line
        raise UsageError(str(error)) from None
    print(f"wrote {path}")
    return 0


# ---- shared by the commands --------------------------------------------------------------


def _add_expression_arguments(command: argparse.ArgumentParser) -> None:
    """EXPR and --at, as the graph and gradcheck commands take them."""
    command.add_argument(
        "expression",
        metavar="EXPR",
        help='for example "tanh(x*w + b)"; a leading minus is fine ("-x*y"), and '
        "'-- EXPR' works for any EXPR",
    )
    command.add_argument(
        "--at", default="", metavar="NAME=NUMBER,...", help="the point, e.g. x=2,w=-3,b=6.88"
    )


# Per command that takes EXPR: its options whose next argument is their value, and its
# one-letter options, as their add_argument calls declare them (a test checks they agree).
_VALUE_OPTIONS = {
    "graph": ("--at", "-o", "--output"),
    "gradcheck": ("--at", "--eps", "--atol", "--rtol"),
}
_SHORT_OPTIONS = {"graph": ("-h", "-o"), "gradcheck": ("-h",)}


def _expression_last(arguments: list[str]) -> list[str]:
    """Move EXPR of graph and gradcheck behind '--', so that "-x*y" is not read as an option.

    argparse takes any argument starting with '-' for an option. EXPR is the argument right
    after '--' when there is one (so options may follow it: ``graph -- -x --at x=1``), else
    the first argument starting with one '-' that is neither an option of the command nor
    the value of the option before it, unless a plain argument (the EXPR) came first. Any
    other command line is returned unchanged, so argparse's messages quote it as typed.
    So "-o*x" is still -o with the value "*x": such an EXPR needs the '--'.
    """
    if len(arguments) < 2 or arguments[0] not in _VALUE_OPTIONS:
        return arguments
    command, rest = arguments[0], arguments[1:]
    if "--" in rest:
        where = rest.index("--")
        if where + 1 == len(rest):
            return arguments  # nothing after '--': argparse reports the missing EXPR
        expression = rest[where + 1]
        rest = rest[:where] + rest[where + 2 :]
        return [command, *rest, "--", expression]
    for where, argument in enumerate(rest):
        if where > 0 and _takes_a_value(command, rest[where - 1]):
            continue  # --eps -1: the option's value, which argparse handles itself
        if not argument.startswith("-") or argument == "-":
            return arguments  # a plain argument: the EXPR is already where argparse looks
        if argument.startswith("--") or argument[:2] in _SHORT_OPTIONS[command]:
            continue  # --at, -o FILE, -ograph.svg, -h
        return [command, *rest[:where], *rest[where + 1 :], "--", argument]
    return arguments


def _takes_a_value(command: str, argument: str) -> bool:
    """Whether ``argument`` is an option of ``command`` that reads the next argument."""
    options = _VALUE_OPTIONS[command]
    if argument.startswith("--"):  # argparse also accepts unique prefixes: --out
        return "=" not in argument and any(option.startswith(argument) for option in options)
    return argument in options


def _check_output_path(option: str, path: str, suffixes: Sequence[str]) -> None:
    """Refuse an output path that could not be written, before any work is done.

    Refused: a wrong suffix, a name that is only the suffix (".svg"), a missing folder,
    and an existing folder in place of the file.
    """
    if not path.lower().endswith(tuple(suffixes)):
        raise UsageError(f"{option} {path!r}: the file name must end in {'/'.join(suffixes)}")
    name = os.path.basename(path)
    if name.lower() in suffixes:
        raise UsageError(f"{option} {path!r}: give the file a name before {name}")
    if not os.path.isdir(os.path.dirname(path) or "."):
        raise UsageError(f"{option} {path!r}: the folder does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r}: that is a folder, not a file")


def _values_at(variables: Sequence[str], at: str) -> list[float]:
    """The --at values in the expression's variable order; bad or missing names exit 2."""
    from tinygrad_edu.expr import parse_assignments

    if not variables:
        raise UsageError("the expression has no variables: give it at least one name")
    assignments = parse_assignments(at)
    uses = ", ".join(variables)
    for name in assignments:
        if name not in variables:
            raise UsageError(f"unknown name {name!r} in --at (the expression uses {uses})")
    for name in variables:
        if name not in assignments:
            raise UsageError(f"missing --at value for {name!r} (the expression uses {uses})")
    return [assignments[name] for name in variables]


# ---- gradcheck --------------------------------------------------------------------------


def _add_gradcheck_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    command = commands.add_parser(
        "gradcheck",
        help="compare backward with finite differences",
        description="Compare the engine's gradient of EXPR with central differences; "
        "exit 1 when a gradient does not match or does not exist at the point.",
    )
    _add_expression_arguments(command)
    command.add_argument("--eps", type=float, default=1e-6, help="finite-difference step")
    command.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance")
    command.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance")
    command.add_argument(
        "--second", action="store_true", help="also check second derivatives (gradgradcheck)"
    )
    command.set_defaults(run=_run_gradcheck)


def _run_gradcheck(args: argparse.Namespace) -> int:
    # Imported here so that this command's dependencies stay out of the others' startup.
    from tinygrad_edu.expr import parse_expression
    from tinygrad_edu.gradcheck import gradcheck, gradgradcheck

    expression = parse_expression(args.expression)
    point = _values_at(expression.variables, args.at)
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
