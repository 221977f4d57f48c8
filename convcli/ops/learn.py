"""The kernel is learned: gradient descent on a correlation's squared error (d2l 6.2.4).

``Y_hat = corr2d(X, K) + b`` and ``L = sum((Y_hat - Y)**2)``. The gradient (梯度) of
``L`` with respect to ``K`` is a correlation of ``X`` with the residual: ``dL/dK[a, b]
= sum_ij 2*(Y_hat - Y)[i, j] * X[i + a, j + b]``, and ``dL/db = sum 2*(Y_hat - Y)``.
Each epoch is one step of plain SGD, ``K -= lr * dL/dK``, as ``torch.optim.SGD`` takes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from convcli.errors import NumericError, ShapeError
from convcli.i18n import _
from convcli.ops.conv import corr2d

__all__ = [
    "MAX_EPOCHS",
    "Learned",
    "edges_example",
    "kernel_gradient",
    "learn_kernel",
    "random_kernel",
]

Array = npt.NDArray[np.float64]
# More epochs than a table can show or a learner wait for: refused up front.
MAX_EPOCHS = 100_000


@dataclass(frozen=True)
class Learned:
    """A learning run: the loss before each epoch's step, and the kernel (and bias) after."""

    losses: list[float]
    kernel: Array
    bias: float | None
    initial_kernel: Array


def kernel_gradient(x: npt.ArrayLike, residual: npt.ArrayLike) -> Array:
    """``dL/dK`` of ``L = sum(residual**2)`` where ``residual = corr2d(x, K) - Y``:
    the correlation of ``x`` with ``2 * residual``.

    Examples
    --------
    >>> x = np.array([[1, 2, 3], [4, 5, 6]])
    >>> kernel_gradient(x, np.array([[1, 0]])).astype(int).tolist()
    [[2, 4], [8, 10]]
    """
    return corr2d(np.asarray(x, dtype=np.float64), 2.0 * np.asarray(residual, dtype=np.float64))


def random_kernel(shape: tuple[int, int], seed: int | None = None) -> Array:
    """nn.Conv2d's default initial weight for one channel: uniform in
    ``[-1/sqrt(k_h*k_w), 1/sqrt(k_h*k_w)]`` (numpy's generator, not torch's numbers).

    Examples
    --------
    >>> k = random_kernel((1, 2), seed=0)
    >>> k.shape, bool(np.all(np.abs(k) <= 1 / np.sqrt(2)))
    ((1, 2), True)
    """
    bound = 1 / math.sqrt(shape[0] * shape[1])
    return np.random.default_rng(seed).uniform(-bound, bound, size=shape)


def learn_kernel(
    x: npt.ArrayLike,
    target: npt.ArrayLike,
    initial_kernel: npt.ArrayLike,
    *,
    lr: float = 0.03,
    epochs: int = 10,
    bias: float | None = None,
) -> Learned:
    """Learn a kernel so that ``corr2d(x, kernel) (+ bias)`` approaches ``target``.

    Parameters
    ----------
    x : array_like, shape (n_h, n_w)
    target : array_like, shape (n_h - k_h + 1, n_w - k_w + 1)
    initial_kernel : array_like, shape (k_h, k_w)
    lr : float
        The step size of gradient descent.
    epochs : int
        Steps, each on the whole input; ``losses[i]`` is the summed squared error before
        step ``i`` (as d2l prints it).
    bias : float, optional
        The initial bias, learned too; ``None``: no bias.

    Examples
    --------
    >>> x = np.array([[1, 1, 0, 0, 1]])
    >>> y = np.array([[0, 1, 0, -1]])
    >>> run = learn_kernel(x, y, np.zeros((1, 2)), lr=0.5, epochs=2)
    >>> run.losses, run.kernel.tolist()
    ([2.0, 0.0], [[1.0, -1.0]])
    """
    for name, value in (("x", x), ("target", target), ("initial_kernel", initial_kernel)):
        if np.asarray(value).dtype.kind == "c":
            raise NumericError(
                _("{name} is complex: learning works on real numbers").format(name=name)
            )
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(target, dtype=np.float64)
    kernel = np.array(initial_kernel, dtype=np.float64)
    if xa.ndim != 2 or ya.ndim != 2 or kernel.ndim != 2:
        raise ShapeError(
            _(
                "input, target and kernel must be 2-D (one channel), got {x}-D, {y}-D and {k}-D"
            ).format(x=xa.ndim, y=ya.ndim, k=kernel.ndim)
        )
    expected = (xa.shape[0] - kernel.shape[0] + 1, xa.shape[1] - kernel.shape[1] + 1)
    if min(expected) < 1 or ya.shape != expected:
        raise ShapeError(
            _(
                "a {kh}x{kw} kernel on a {h}x{w} input gives {mh}x{mw}, but the target is {th}x{tw}"
            ).format(
                kh=kernel.shape[0],
                kw=kernel.shape[1],
                h=xa.shape[0],
                w=xa.shape[1],
                mh=expected[0],
                mw=expected[1],
                th=ya.shape[0],
                tw=ya.shape[1],
            )
        )
    if not 1 <= epochs <= MAX_EPOCHS or not math.isfinite(lr) or lr <= 0:
        raise ShapeError(
            _(
                "epochs must be from 1 to {most} and lr a positive number, got {epochs} and {lr}"
            ).format(most=MAX_EPOCHS, epochs=epochs, lr=lr)
        )
    start = kernel.copy()
    b = None if bias is None else float(bias)
    losses: list[float] = []
    for epoch in range(epochs):
        with np.errstate(all="ignore"):  # a diverging run is caught just below
            residual = corr2d(xa, kernel) + (b or 0.0) - ya
            loss = float(np.sum(residual**2))
        if not math.isfinite(loss):
            raise NumericError(
                _(
                    "the loss is no longer finite at epoch {epoch}: the steps diverge; "
                    "use a smaller lr"
                ).format(epoch=epoch + 1)
            )
        losses.append(loss)
        with np.errstate(all="ignore"):
            kernel -= lr * kernel_gradient(xa, residual)
        if b is not None:
            b -= lr * float(np.sum(2.0 * residual))
    return Learned(losses=losses, kernel=kernel, bias=b, initial_kernel=start)


def edges_example() -> tuple[Array, Array]:
    """d2l's edge example: the 6x8 image of ones with a dark band (columns 2 to 5), and
    the target ``corr2d(X, [[1, -1]])``: 1 and -1 at the band's edges.

    Examples
    --------
    >>> x, y = edges_example()
    >>> x[0].astype(int).tolist(), y[0].astype(int).tolist()
    ([1, 1, 0, 0, 0, 0, 1, 1], [0, 1, 0, 0, 0, -1, 0])
    """
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    return x, corr2d(x, np.array([[1.0, -1.0]]))
