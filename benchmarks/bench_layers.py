"""Benchmark convcli's pooling and transposed convolution against torch (float32, CPU).

Run it with the machine's own OpenBLAS defaults (users do not set these)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_layers.py

Timed in blocks exactly as ``bench_conv.py`` (``benchtools.best_of_blocks``): a case's
time is the best block median over 15 rounds (5 with ``--quick``), and the ratio is
convcli/torch measured in the same run ("median": the median over the rounds of the
interleaved blocks' ratio). ``--case WORD`` (repeatable) runs only matching cases.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
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

Options = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    op: str
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...] | None
    options: Options = field(default_factory=dict)


UP = {"stride": 2, "padding": 1}
SUITE = [
    Case("resnet stem pool", "max_pool2d", (1, 64, 112, 112), None, {"kernel_size": 3, **UP}),
    Case("batch avg pool", "avg_pool2d", (8, 64, 56, 56), None, {"kernel_size": 2}),
    Case("global pool", "adaptive_avg_pool2d", (8, 512, 7, 7), None, {"output_size": 1}),
    Case("DCGAN up", "conv_transpose2d", (1, 256, 16, 16), (256, 128, 4, 4), UP),
    Case("batch up", "conv_transpose2d", (8, 64, 32, 32), (64, 32, 4, 4), UP),
]


def main(argv: list[str] | None = None) -> int:
    rounds, words = rounds_from_args(__doc__, argv)
    torch, F = import_torch()
    print_versions(torch, say_no_torch=False)
    print()
    header = f"{'case':<17} {'op':<20} {'convcli ms':>10} {'torch ms':>9} {'ratio':>6} "
    header += f"{'median':>6}  agrees"
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    ratios: list[float] = []
    all_agree = True
    for case in SUITE:
        if not selected(case.name, words):
            continue
        x = rng.standard_normal(case.input_shape, dtype=np.float32)
        operands: list[Any] = [x]
        if case.weight_shape is not None:
            operands.append(rng.standard_normal(case.weight_shape, dtype=np.float32))
        ours_fn = getattr(convcli, case.op)
        fns: dict[str, Callable[[], object]] = {
            "convcli": partial(ours_fn, *operands, **case.options)
        }
        ours = ours_fn(*operands, **case.options)
        assert ours.dtype == np.float32
        agrees = "-"
        if torch is not None:
            tensors = [torch.from_numpy(a) for a in operands]
            theirs_fn = getattr(F, case.op)
            fns["torch"] = partial(theirs_fn, *tensors, **case.options)
            theirs = theirs_fn(*tensors, **case.options).numpy()
            ok = agrees_with_torch(ours, theirs)
            all_agree &= ok
            agrees = "yes" if ok else "NO"
        best = best_of_blocks(fns, rounds)
        torch_ms, ratio_text, median_text = torch_columns(best, ratios)
        print(
            f"{case.name:<17} {case.op:<20} {best['convcli'] * 1e3:>10.3f} {torch_ms:>9} "
            f"{ratio_text:>6} {median_text:>6}  {agrees}"
        )
    print_summary(ratios, all_agree, len(header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
