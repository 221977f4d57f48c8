"""Benchmark ``convcli grad``'s backward pass against ``torch.autograd`` (float32, CPU).

Run it with the machine's own OpenBLAS defaults (users do not set these)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_grad.py

Each case is ``bench_conv.py``'s, with a bias and a random ``dY``. convcli's time is what
``convcli grad`` computes, ``conv2d_backward`` (the three gradients: a convolution is
linear, so its gradients need no forward pass and ``grad`` runs none), in the "grad ms"
column. The ratio is the issue's measure: convcli's forward (``conv2d``) plus backward
("+ forward") against torch's ``F.conv2d`` plus ``backward``, with ``requires_grad`` on
the input, the weight and the bias; "median" is the median of the per-round ratios, the
two libraries' blocks interleaved. Timing in blocks, as ``bench_conv.py`` times (its
docstring says why). ``--quick`` runs 5 rounds instead of 15; ``--case WORD`` runs the
cases whose name holds WORD.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_conv import SUITE
from benchtools import (
    agrees_with_torch,
    best_of_blocks,
    import_torch,
    print_summary,
    print_versions,
    rounds_from_args,
    selected,
    torch_columns,
)

import convcli


def _scale(array: Any) -> float:
    return max(1.0, float(np.abs(array).max()))


def main(argv: list[str] | None = None) -> int:
    rounds, words = rounds_from_args(__doc__, argv)
    torch, F = import_torch()
    print_versions(torch, say_no_torch=True)
    print()
    header = (
        f"{'case':<16} {'grad ms':>9} {'+ forward':>10} {'torch ms':>9} {'ratio':>6} "
        f"{'median':>6}  agrees"
    )
    print(header)
    print("-" * len(header))
    ratios: list[float] = []
    rng = np.random.default_rng(0)
    all_agree = True
    for case in SUITE:
        if not selected(case.name, words):
            continue
        x = rng.standard_normal(case.input_shape, dtype=np.float32)
        w = rng.standard_normal(case.weight_shape, dtype=np.float32)
        b = rng.standard_normal(case.weight_shape[0], dtype=np.float32)
        y = convcli.conv2d(x, w, b, **case.options)
        dy = rng.standard_normal(y.shape, dtype=np.float32)

        def ours(
            x: Any = x, w: Any = w, b: Any = b, dy: Any = dy, options: Any = case.options
        ) -> Any:
            return convcli.conv2d_backward(x, w, dy, b, **options)

        def forward(x: Any = x, w: Any = w, b: Any = b, options: Any = case.options) -> Any:
            return convcli.conv2d(x, w, b, **options)

        def both(ours: Any = ours, forward: Any = forward) -> Any:
            return forward(), ours()

        # The measure: convcli's forward and backward against torch's, interleaved.
        fns: dict[str, Callable[[], object]] = {"convcli": both}
        grads = ours()
        agrees = "-"
        if torch is not None:
            tx, tw, tb = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
            tdy = torch.from_numpy(dy)

            def theirs(tx: Any = tx, tw: Any = tw, tb: Any = tb, tdy: Any = tdy,
                       options: Any = case.options) -> Any:  # fmt: skip
                for t in (tx, tw, tb):
                    t.grad = None
                F.conv2d(tx, tw, tb, **options).backward(tdy)
                return tx.grad, tw.grad, tb.grad

            fns["torch"] = theirs
            expected = [t.numpy() for t in theirs()]
            # dW sums over every position: compared relative to its largest value
            ours_all = (grads.grad_input, grads.grad_weight, grads.grad_bias)
            ok = all(
                agrees_with_torch(a / _scale(e), e / _scale(e))
                for a, e in zip(ours_all, expected, strict=True)
            )
            all_agree &= ok
            agrees = "yes" if ok else "NO"
        best = best_of_blocks(fns, rounds)
        torch_ms, ratio_text, median_text = torch_columns(best, ratios)
        ms = best_of_blocks({"grad": ours}, rounds)["grad"] * 1e3
        with_forward = best["convcli"] * 1e3
        print(
            f"{case.name:<16} {ms:>9.3f} {with_forward:>10.3f} {torch_ms:>9} {ratio_text:>6} "
            f"{median_text:>6}  {agrees}"
        )
    print_summary(ratios, all_agree, len(header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
