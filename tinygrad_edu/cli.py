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

_DATASETS = ("moons", "circles", "xor", "parity", "iris", "digits")
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
    command.add_argument("--seed", type=int, default=0, help="data, split, init (default 0)")
    command.add_argument("--save", metavar="MODEL.json", help="write the trained model")
    command.add_argument("--plot", metavar="LOSS.png", help="write the loss curve (png/svg/pdf)")
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
    from tqdm.auto import tqdm  # type: ignore[import-untyped]  # no stubs in the venv

    from tinygrad_edu import data, optim
    from tinygrad_edu.nn import MLP
    from tinygrad_edu.train import evaluate, fit, plot_training

    for option, suffixes in (("plot", (".png", ".svg", ".pdf")), ("save", (".json",))):
        path = getattr(args, option)
        if path is not None and not path.lower().endswith(suffixes):
            raise UsageError(f"--{option} {path!r}: the file name must end in {'/'.join(suffixes)}")
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
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, seed=args.seed)
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
