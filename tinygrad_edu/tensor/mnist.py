r"""The seeds' last example: a 784-32-10 sigmoid network trained on MNIST digits.

The recipe of the tutorials this project teaches: sigmoid everywhere, squared error
against the one-hot digit, plain mini-batch SGD. Here on the 5,000 images of
:func:`tinygrad_edu.data.load_mnist` (4,000 to train, the fixed 1,000 to test).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from tinygrad_edu.data import mnist_train_test
from tinygrad_edu.data.mnist import data_file as mnist_data_file
from tinygrad_edu.engine import no_grad
from tinygrad_edu.optim import SGD
from tinygrad_edu.tensor.engine import Tensor
from tinygrad_edu.tensor.losses import mse_loss
from tinygrad_edu.tensor.nn import MLP

if TYPE_CHECKING:
    from tinygrad_edu.cli import OutputFiles


@dataclass
class MnistRun:
    """What a run gives: the model, the loss per epoch, test accuracy and the mistakes."""

    model: MLP
    epoch_losses: list[float] = field(default_factory=list)
    test_accuracy: float = 0.0
    seconds: float = 0.0
    # Indices into the test set of the images the model gets wrong, and what it said.
    mistakes: list[int] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)


def train_mnist(
    epochs: int = 20,
    lr: float = 10.0,
    batch_size: int = 32,
    hidden: int = 32,
    seed: int = 0,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
    progress: bool = False,
) -> MnistRun:
    r"""Train ``MLP(784, [hidden, 10])`` (sigmoid) with squared error and SGD; test it.

    Pixels are scaled to [0, 1]. The loss is :math:`\frac{1}{10n}\sum (a - y)^2`, the mean
    over the batch and the 10 outputs; its gradient is 1/5 of that of the seeds' cost
    :math:`\frac{1}{2n}\sum\lVert a - y\rVert^2`, so ``lr = 10`` here is their
    :math:`\eta = 2`. The prediction is the output neuron with the largest activation.
    The loop is :func:`tinygrad_edu.train.fit`, the one both engines train with (so a
    diverging run stops with ``TrainingDiverged``); ``on_epoch(epoch, loss, accuracy)`` is
    its callback.
    """
    from tinygrad_edu.train import fit  # train imports the tensor package: import here

    start = time.perf_counter()
    X_train, X_test, y_train, y_test = mnist_train_test()
    X_train, X_test = X_train / 255.0, X_test / 255.0
    one_hot = np.eye(10)
    model = MLP(784, [hidden, 10], activation="sigmoid", output_activation="sigmoid", seed=seed)
    run = MnistRun(model)
    optimiser = SGD(model.parameters(), lr=lr)  # type: ignore[arg-type]  # Tensors work too

    def squared_error(outputs: Tensor, digits: np.ndarray) -> Tensor:
        return mse_loss(outputs, one_hot[digits])

    # One BLAS thread: 32 x 784 products are too small to share out, and on a busy machine
    # extra threads wait on each other (an epoch took 10 s with the default, 0.3 s with 1).
    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(
            model, X_train, y_train, loss=squared_error, optimizer=optimiser, epochs=epochs,
            batch_size=batch_size, seed=seed, progress=progress, on_epoch=on_epoch,
        )  # fmt: skip
        with no_grad():
            predicted = model(X_test).data.argmax(axis=1)
    run.epoch_losses = history.loss
    run.test_accuracy = float(np.mean(predicted == y_test))
    run.mistakes = np.flatnonzero(predicted != y_test).tolist()
    run.predictions = predicted.tolist()
    run.seconds = time.perf_counter() - start
    return run


# The recipe is fixed; these options of ``tinygrad-edu train`` may only restate it.
RECIPE = {"loss": "mse", "optimizer": "sgd", "activation": "sigmoid"}
DEFAULTS = {"hidden": [32], "lr": 10.0, "epochs": 20, "batch_size": 32}


def run_train_command(args: argparse.Namespace, outputs: OutputFiles) -> int:
    """``tinygrad-edu train --dataset mnist``: the seeds' recipe on the Tensor engine.

    ``outputs`` holds the checked ``--save`` and ``--plot`` paths: written all or none.
    """
    from tinygrad_edu.cli import UsageError, say
    from tinygrad_edu.train import History, plot_training

    for option, fixed in RECIPE.items():
        if getattr(args, option) not in (None, fixed):
            raise UsageError(f"--dataset mnist trains the seeds' recipe: --{option} must be "
                             f"{fixed}, got {getattr(args, option)}")  # fmt: skip
    for option, value in DEFAULTS.items():
        if getattr(args, option) is None:
            setattr(args, option, value)
    try:
        mnist_data_file()  # without the [mnist] extra: one line, before anything else
    except ImportError as error:
        raise UsageError(str(error)) from None
    if len(args.hidden) != 1:
        raise UsageError(f"--dataset mnist has one hidden layer: --hidden N, got {args.hidden}")
    say(f"mnist: 4000 training and 1000 test images; MLP(784, [{args.hidden[0]}, 10]) "
          f"sigmoid, mse loss, sgd lr={args.lr:g}, {args.epochs} epochs, "
          f"batch size {args.batch_size}, tensor engine")  # fmt: skip
    run = train_mnist(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, hidden=args.hidden[0],
        seed=args.seed, progress=True, on_epoch=lambda epoch, loss, accuracy: say(
            f"epoch {epoch:3d}/{args.epochs}  loss {loss:.4f}  accuracy {accuracy:.3f}"
            "  (running means over the epoch's batches)"),
    )  # fmt: skip
    say(f"test accuracy {run.test_accuracy:.3f} on 1000 examples ({run.seconds:.1f} s)")
    with outputs:
        if args.save is not None:
            run.model.save(outputs.draft(args.save))
        if args.plot is not None:
            plot_training(outputs.draft(args.plot), History(loss=run.epoch_losses, accuracy=[]))
        outputs.publish()
    if args.save is not None:
        say(f"saved the model to {args.save}")
    if args.plot is not None:
        say(f"wrote {args.plot}")
    return 0
