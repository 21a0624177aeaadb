"""The ``tinygrad-edu`` command line: ``train``, ``graph`` and ``gradcheck``.

Exit statuses: 0 done; 1 the run failed (``gradcheck`` found a mismatch, training
diverged, standard output could not be written); 2 bad input of any kind, in one line on
stderr and never a traceback (a missing Graphviz renderer too: the message says how to
install one); 130 Ctrl-C, at any moment; 141 the reader of standard output went away
(``| head``), as a shell reports a process stopped by SIGPIPE. A bare ``tinygrad-edu``
prints the help. Every output file is checked before any work, and a command writes all
of its output files or none.

This module is the entry point, so at import it loads only what Python has loaded at
start-up (os, sys) and ``__future__``: the Ctrl-C handling in :func:`main` is in place
before every heavy import (argparse, numpy, the engine), which all happen inside it.
"""

from __future__ import annotations

import os
import sys

# NOTE: not typing.TYPE_CHECKING: importing typing here would run before the handling.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from pathlib import Path
    from types import TracebackType
    from typing import Any, NoReturn

    _Commands = argparse._SubParsersAction[Any]  # the sub-command table of a parser

PROG = "tinygrad-edu"
_COMMANDS = ("train", "graph", "gradcheck")
# 128 + the signal number: what a shell reports for a run stopped by SIGINT or SIGPIPE.
_STATUS_INTERRUPTED = 130
_STATUS_BROKEN_PIPE = 141


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""


class StdoutError(Exception):
    """Standard output is closed or full: reported in one line on stderr."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    ctrl_c = _CtrlC()
    try:
        with ctrl_c:
            if sys.stdout is None:  # started with stdout closed (`>&-`): say so, do nothing
                raise StdoutError("standard output is closed; nothing was done", 1)
            status = _run(list(sys.argv[1:] if argv is None else argv))
            if ctrl_c.pressed:  # a Ctrl-C that Python dropped, and the run went on to the end
                raise KeyboardInterrupt
            _flush_stdout()  # a full or closed stdout shows here, while we can still say so
            return status
    except BaseException as error:
        # Checked first: a library may turn Ctrl-C into another error (numpy's import
        # raises ImportError when interrupted while it loads its C extension).
        if ctrl_c.pressed or isinstance(error, KeyboardInterrupt):
            print(f"{PROG}: interrupted", file=sys.stderr)
            return _STATUS_INTERRUPTED
        if isinstance(error, BrokenPipeError):  # a write to stdout not made by _say (tqdm)
            error = _stdout_error(error)
        if isinstance(error, StdoutError):
            _quiet_stdout()
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return error.status
        if isinstance(error, UsageError | ValueError | TypeError | OSError | ArithmeticError):
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 2
        raise


class _CtrlC:
    """While in use, Ctrl-C (SIGINT) raises ``KeyboardInterrupt`` as usual and is remembered.

    Python drops an exception raised inside a weakref callback or a ``__del__`` (printing
    "Exception ignored"): a Ctrl-C that lands there is raised again a moment later, from a
    timer thread, since raising it from the hook that reports the drop would drop it too.
    """

    # Long enough for the main thread to leave the hook and the callback.
    _AGAIN_AFTER_SECONDS = 0.01

    def __init__(self) -> None:
        self.pressed = False
        self._installed = False
        self._previous_handler: Any = None
        self._previous_hook: Any = None
        self._again: Any = None  # the timer that raises a dropped Ctrl-C again

    def _on_signal(self, signal_number: int, frame: object) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    def _on_unraisable(self, unraisable: Any) -> None:
        if unraisable.exc_type is not KeyboardInterrupt:
            self._previous_hook(unraisable)
        elif self._again is None:
            import _thread
            import threading

            self._again = threading.Timer(self._AGAIN_AFTER_SECONDS, _thread.interrupt_main)
            self._again.daemon = True
            self._again.start()

    def __enter__(self) -> None:
        import signal

        try:
            self._previous_handler = signal.signal(signal.SIGINT, self._on_signal)
        except ValueError:  # not the main thread: only that one may handle signals
            return
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._on_unraisable
        self._installed = True

    def __exit__(self, *exc_info: object) -> None:
        import signal

        if self._again is not None:
            self._again.cancel()
        if self._installed:  # None: a handler set outside Python; the default is closest
            previous = self._previous_handler
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
            sys.unraisablehook = self._previous_hook
            self._installed = False


def _run(arguments: list[str]) -> int:
    """Parse ``arguments`` and run the command they name; return the exit status."""
    parser = build_parser()
    if not arguments:  # a bare `tinygrad-edu`: what there is to do, not a training run
        parser.print_help()
        return 0
    if arguments[0].startswith("-") and arguments[0] not in ("-h", "--help", "--version"):
        raise UsageError(_suggest_a_command(parser, arguments))
    try:
        args = parser.parse_args(_expression_last(arguments))
    except SystemExit as done:  # --help and --version print, then argparse exits
        return 0 if done.code is None else int(done.code)
    status: int = args.run(args)
    return status


def _suggest_a_command(parser: argparse.ArgumentParser, arguments: list[str]) -> str:
    """One line for options given without a command: the command line that was meant."""
    import shlex

    option = arguments[0].split("=", 1)[0]
    commands = [name for name, command in _subcommands(parser).items()
                if option in command._option_string_actions]  # fmt: skip
    if not commands:
        return (
            f"unknown option {option!r}: start with a command ({', '.join(_COMMANDS)}; "
            f"see '{PROG} --help')"
        )
    suggestion = (
        f"{option} is an option of a command: try {shlex.join([PROG, commands[0], *arguments])}"
    )
    if len(commands) > 1:
        suggestion += f" (or {', '.join(commands[1:])} in place of {commands[0]})"
    return suggestion


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser of each command, by name."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    import argparse

    from tinygrad_edu import __version__

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            # argparse prints the whole usage; one line is what a user needs.
            raise UsageError(f"{message} (see '{self.prog} --help')")

    parser = Parser(
        prog=PROG,
        description="Learn backpropagation by doing it.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _add_train_command(commands)
    _add_graph_command(commands)
    _add_gradcheck_command(commands)
    return parser


def say(*parts: object) -> None:
    """``print`` to stdout; a closed or full stdout becomes a :class:`StdoutError`."""
    try:
        print(*parts)
    except OSError as error:
        raise _stdout_error(error) from None


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except OSError as error:
        raise _stdout_error(error) from None


def _stdout_error(error: OSError) -> StdoutError:
    if isinstance(error, BrokenPipeError):
        return StdoutError("the reader of standard output went away", _STATUS_BROKEN_PIPE)
    return StdoutError(f"cannot write to standard output: {error.strerror or error}", 1)


def _quiet_stdout() -> None:
    """Point stdout at devnull, so that Python's own flush at exit has nothing to complain of."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # closed from the start, or not a file (a test's capture)
    os.dup2(os.open(os.devnull, os.O_WRONLY), descriptor)


def _bad_value(message: str) -> Exception:
    """The error an option's type function raises: argparse shows ``message`` as is."""
    import argparse

    return argparse.ArgumentTypeError(message)


# ---- train ------------------------------------------------------------------------------

_DATASETS = ("moons", "circles", "xor", "parity", "iris", "digits", "mnist")
_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad")
_LOSS_NAMES = ("hinge", "ce", "mse", "bce")
# Learning rates that work for each optimiser when the dataset's own default is not used.
_DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 0.01, "rmsprop": 0.01, "adagrad": 0.1}
# Per dataset: settings that train well in seconds here (measured; see the report in git).
# digits: 3 epochs of 64-32-10 reach about 0.93 test accuracy (one epoch: about 0.7).
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
                   lr=0.01, epochs=3, batch_size=16),
}  # fmt: skip
_SYNTHETIC_POINTS = 100


def _describe_run(settings: dict[str, object]) -> str:
    """``[16, 16] relu, hinge loss, sgd lr=0.3, 50 epochs, batch size 10``: one run's settings."""
    epochs = settings["epochs"]
    batch_size = settings["batch_size"]
    return (
        f"{settings['activation']}, {settings['loss']} loss, {settings['optimizer']} "
        f"lr={settings['lr']:g}, {epochs} epoch{'' if epochs == 1 else 's'}, "
        + ("full batch" if batch_size is None else f"batch size {batch_size}")
    )


def _add_train_command(commands: _Commands) -> None:
    defaults = "\n".join(
        f"  {name}: hidden {settings['hidden']}, {_describe_run(settings)}"
        for name, settings in _DATASET_DEFAULTS.items()
    )
    # The seeds' MNIST recipe is fixed (see tinygrad_edu.tensor.mnist); said here in words.
    defaults += (
        "\n  mnist: hidden [32], sigmoid, mse loss, sgd lr=10, 20 epochs, batch size 32, "
        "tensor engine\n"
    )
    import argparse

    command = commands.add_parser(
        "train",
        help="train an MLP on a small dataset",
        description="Train an MLP and report the test accuracy. Options left out take the "
        "dataset's defaults (moons: MLP(2, [16, 16, 1]), hinge loss, SGD).",
        epilog=f"defaults per dataset:\n{defaults}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        raise _bad_value(f"{text!r} is not an integer") from None
    if value < 1:
        raise _bad_value(f"{text!r} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad_value(f"{text!r} is not a number") from None
    if not (value > 0.0 and value < float("inf")):
        raise _bad_value(f"{text!r} must be a positive finite number")
    return value


def _seed(text: str) -> int:
    # numpy's generators take any integer >= 0, however large, and no negative one.
    problem = f"{text!r} is not a non-negative integer"
    try:
        value = int(text)
    except ValueError:
        raise _bad_value(problem) from None
    if value < 0:
        raise _bad_value(problem)
    return value


def _hidden_sizes(text: str) -> list[int]:
    if not text.strip():
        return []  # no hidden layer: a linear model
    import argparse  # loaded already: argparse is what calls this

    try:
        return [_positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise _bad_value(f"{text!r} is not a list of positive layer sizes like 16,16") from None


def _run_train(args: argparse.Namespace) -> int:
    outputs = OutputFiles()
    # Checked now, not after minutes of training.
    if args.save is not None:
        outputs.check("--save", args.save, (".json",))
    if args.plot is not None:
        outputs.check("--plot", args.plot, (".png", ".svg", ".pdf"))

    import numpy as np
    from tqdm.auto import tqdm

    from tinygrad_edu import data, optim
    from tinygrad_edu.nn import MLP
    from tinygrad_edu.nn.modules import MAX_PARAMETERS, count_parameters
    from tinygrad_edu.train import TrainingDiverged, evaluate, fit, plot_training

    if args.dataset == "mnist":  # the seeds' 784-32-10 recipe, on the Tensor engine (SPEC §11)
        from tinygrad_edu.tensor.mnist import run_train_command

        return run_train_command(args, outputs)
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
    say(
        f"{args.dataset}: {len(X_train)} training and {len(X_test)} test examples; "
        f"MLP({X.shape[1]}, {sizes}) {_describe_run(vars(args))}"
    )

    # SPEC 4.1: with several batches an epoch's figures are running means, taken while the
    # weights changed under them; the line says so, as the progress bar does.
    several_batches = args.batch_size is not None and args.batch_size < len(X_train)

    def report(epoch: int, loss: float, accuracy: float | None) -> None:
        line = f"epoch {epoch:3d}/{args.epochs}  loss {loss:.4f}"
        if accuracy is not None:  # None where the loss gives no way to read off a class
            line += f"  accuracy {accuracy:.3f}"
        if several_batches:
            line += "  (running means over the epoch's batches)"
        with tqdm.external_write_mode():  # keeps the progress bar (on stderr) below the lines
            say(line)

    try:
        history = fit(
            model, X_train, y_train, loss=args.loss, optimizer=optimizer, epochs=args.epochs,
            batch_size=args.batch_size, seed=args.seed, on_epoch=report,
        )  # fmt: skip
    except TrainingDiverged as error:  # the run failed, the input was fine: status 1
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    result = evaluate(model, X_test, y_test, loss=args.loss)
    say(f"test accuracy {result.accuracy:.3f} on {len(X_test)} examples")
    with outputs:
        if args.save is not None:
            model.save(outputs.draft(args.save))
        if args.plot is not None:
            if X.shape[1] == 2:
                plot_training(outputs.draft(args.plot), history, model=model, X=X, y=y,
                              loss=args.loss)  # fmt: skip
            else:
                plot_training(outputs.draft(args.plot), history)
        outputs.publish()
    if args.save is not None:
        say(f"saved the model to {args.save}")
    if args.plot is not None:
        say(f"wrote {args.plot}")
    return 0


# ---- graph ------------------------------------------------------------------------------


def _add_graph_command(commands: _Commands) -> None:
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
    command.add_argument(
        "--html", metavar="FILE", help="also write the step-through page: one offline HTML file"
    )
    command.set_defaults(run=_run_graph)


def _run_graph(args: argparse.Namespace) -> int:
    from tinygrad_edu import Value
    from tinygrad_edu.expr import parse_expression
    from tinygrad_edu.viz import RENDER_FORMATS, GraphvizNotFoundError, draw_dot, render

    outputs = OutputFiles()
    outputs.check("-o", args.output, [f".{suffix}" for suffix in RENDER_FORMATS])
    if args.html is not None:
        outputs.check("--html", args.html, [".html", ".htm"])
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
    say(f"f = {expression.formula}")
    width = max(len(name) for name in ["name", *inputs, "f"])
    say(f"{'name':<{width}}  {'value':>12}  {'d f / d name':>14}")
    for name, value in [*inputs.items(), ("f", output)]:
        say(f"{name:<{width}}  {value.data:>12.6g}  {value.grad:>14.6g}")
    written = [args.output]
    with outputs:
        try:
            render(draw_dot(output), outputs.draft(args.output))
            if args.html is not None:  # the step-through page (SPEC §12)
                from tinygrad_edu.viz import save_html

                save_html(output, outputs.draft(args.html))
                written.append(args.html)
        except GraphvizNotFoundError as error:  # its message is the install hint, in one line
            raise UsageError(str(error)) from None
        outputs.publish()
    for path in written:
        say(f"wrote {path}")
    return 0


# ---- shared by the commands --------------------------------------------------------------


def _add_expression_arguments(command: argparse.ArgumentParser) -> None:
    """EXPR and --at, as the graph and gradcheck commands take them."""
    command.add_argument(
        "expression",
        metavar="EXPR",
        help='for example "tanh(x*w + b)"; a leading minus is fine ("-x*y"), and '
        "'-- EXPR' works for any EXPR; pi and e are constants",
    )
    command.add_argument(
        "--at",
        action="append",
        default=[],
        metavar="NAME=NUMBER,...",
        help="the point, e.g. x=2,w=-3,b=6.88 (or --at x=2 --at w=-3 ...)",
    )


# Per command that takes EXPR: its options whose next argument is their value, and its
# one-letter options, as their add_argument calls declare them (a test checks they agree).
_VALUE_OPTIONS = {
    "graph": ("--at", "-o", "--output", "--html"),
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


class OutputFiles:
    """The files a command writes: each checked before any work, then written all or none.

    Each file is first made in a private scratch folder (:meth:`draft`); :meth:`publish`
    then copies them into place with the one atomic writer, and if any write fails (or
    Ctrl-C comes) puts back what the earlier ones replaced.
    """

    def __init__(self) -> None:
        self._targets: list[str] = []
        self._drafts: dict[str, Path] = {}
        self._scratch: str | None = None

    def check(self, option: str, path: str, suffixes: Sequence[str]) -> None:
        """Refuse ``path`` now, before any work, if it could not be written later."""
        from tinygrad_edu.files import check_writable

        _check_output_path(option, path, suffixes)
        try:
            check_writable(path)
        except (ValueError, OSError) as error:  # the writer's own words, naming the path
            raise UsageError(f"{option} {error}") from None
        self._targets.append(path)

    def __enter__(self) -> OutputFiles:
        import tempfile

        self._scratch = tempfile.mkdtemp(prefix="tinygrad-edu-")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import shutil

        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def draft(self, path: str) -> Path:
        """Where to make the file that will become ``path`` (a checked target)."""
        from pathlib import Path

        if self._scratch is None or path not in self._targets:
            raise RuntimeError(f"{path!r} was not checked, or drafted outside 'with'")
        draft = Path(self._scratch) / f"{len(self._drafts)}{Path(path).suffix}"
        self._drafts[path] = draft
        return draft

    def publish(self) -> None:
        """Copy every draft into place; on any failure, undo the copies already made."""
        from pathlib import Path

        from tinygrad_edu.files import write_atomically

        replaced: list[tuple[Path, bytes | None]] = []  # (target, its content before)
        try:
            for path, draft in self._drafts.items():
                target = Path(path)
                before = target.read_bytes() if target.is_file() else None
                write_atomically(target, draft.read_bytes())
                replaced.append((target, before))
        except BaseException:
            for target, before in reversed(replaced):
                if before is None:
                    target.unlink(missing_ok=True)
                else:
                    write_atomically(target, before)
            raise


def _check_output_path(option: str, path: str, suffixes: Sequence[str]) -> None:
    """Refuse an output path whose name is wrong, before any work is done.

    Refused: a wrong suffix, and a name that is only the suffix (".svg"). What is at the
    path (a missing folder, a folder or FIFO in place of the file) is the writer's own
    check, ``files.check_writable``, which ``OutputFiles.check`` calls next.
    """
    if not path.lower().endswith(tuple(suffixes)):
        raise UsageError(f"{option} {path!r}: the file name must end in {'/'.join(suffixes)}")
    name = os.path.basename(path)
    if name.lower() in suffixes:
        raise UsageError(f"{option} {path!r}: give the file a name before {name}")


def _values_at(variables: Sequence[str], at_options: Sequence[str]) -> list[float]:
    """The --at values in the expression's variable order; bad or missing names exit 2.

    Several --at options merge; a name given twice, in one or across several, is refused.
    """
    from tinygrad_edu.expr import parse_assignments

    if not variables:
        raise UsageError("the expression has no variables: give it at least one name")
    assignments: dict[str, float] = {}
    for text in at_options:
        for name, value in parse_assignments(text).items():
            if name in assignments:
                raise UsageError(f"{name!r} is given twice in --at")
            assignments[name] = value
    uses = ", ".join(variables)
    for name in assignments:
        if name not in variables:
            raise UsageError(f"unknown name {name!r} in --at (the expression uses {uses})")
    for name in variables:
        if name not in assignments:
            raise UsageError(f"missing --at value for {name!r} (the expression uses {uses})")
    return [assignments[name] for name in variables]


# ---- gradcheck --------------------------------------------------------------------------


def _add_gradcheck_command(commands: _Commands) -> None:
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
    say(f"f = {expression.formula}")
    say(f"at {where}: f = {float(expression(*point)):.10g}")
    say()
    say(report)
    passed = report.passed
    if args.second:
        second = gradgradcheck(expression, point, names=expression.variables, **settings)
        say()
        say(second)
        passed = passed and second.passed
    return 0 if passed else 1
