"""Benchmark ``convcli.conv2d`` against ``torch.nn.functional.conv2d`` (float32, CPU).

Run it with the machine's own OpenBLAS defaults (users do not set these)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_conv.py

Timing is in blocks, never call-by-call alternation: a block is several calls of one
library, then a short pause, then a block of the other. After a call each library's
idle worker threads keep spinning for a while and take the cores from the other one,
which distorts alternated timings by 2-5x. A case's time is the best block median over
a few rounds. The GEMM peak is a float32 1024x1024x1024 numpy matmul timed the same way
in the same run; "% peak" is the case's GFLOP/s (2 x multiply-adds / time) over it.

``--quick`` runs 5 rounds instead of 15; ``--case WORD`` (repeatable) runs only the cases
whose name contains WORD. "ratio" is best block over best block; "median" is the median
over the rounds of the two libraries' interleaved block medians, and the geometric mean
is taken over the medians.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
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
from convcli.ops.algorithms import choose_algorithm

Array = npt.NDArray[Any]
Options = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, int, int, int]
    options: Options = field(default_factory=dict)

    @property
    def macs(self) -> int:
        c_o, c_per_group, k_h, k_w = self.weight_shape
        m_h, m_w = _out_size(self)
        n = self.input_shape[0] if len(self.input_shape) == 4 else 1
        return n * c_o * m_h * m_w * c_per_group * k_h * k_w


SUITE = [
    Case("resnet 3x3", (1, 64, 56, 56), (64, 64, 3, 3), {"padding": 1}),
    Case("1x1", (1, 256, 56, 56), (64, 256, 1, 1)),
    Case("rgb k5", (1, 3, 512, 512), (16, 3, 5, 5), {"padding": 2}),
    Case("batch", (8, 32, 64, 64), (32, 32, 3, 3), {"padding": 1}),
    Case("depthwise", (1, 128, 56, 56), (128, 1, 3, 3), {"padding": 1, "groups": 128}),
    Case(
        "grouped strided",
        (1, 64, 56, 56),
        (128, 32, 3, 5),
        {"stride": 2, "padding": (1, 2), "groups": 2},
    ),
    Case(
        "strided dilated",
        (1, 32, 128, 128),
        (64, 32, 3, 3),
        {"stride": 2, "padding": 2, "dilation": 2},
    ),
    Case("lesson", (2, 3, 3), (3, 2, 2, 2)),
]
DENSE_LARGE = ("resnet 3x3", "1x1", "batch", "grouped strided", "strided dilated")


def _out_size(case: Case) -> tuple[int, int]:
    geom = convcli.resolve_geometry(
        case.input_shape[-2:],  # type: ignore[arg-type]
        case.weight_shape[2:],
        stride=case.options.get("stride", 1),
        padding=case.options.get("padding", 0),
        dilation=case.options.get("dilation", 1),
    )
    return geom.out_size


def gemm_peak(rounds: int) -> float:
    """GFLOP/s of a float32 1024^3 numpy matmul, timed in blocks like the cases."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    c = np.empty((1024, 1024), dtype=np.float32)
    seconds = best_of_blocks({"numpy": lambda: np.matmul(a, b, out=c)}, rounds)["numpy"]
    return 2 * 1024**3 / seconds / 1e9


def main(argv: list[str] | None = None) -> int:
    rounds, words = rounds_from_args(__doc__, argv)
    torch, F = import_torch()
    print_versions(torch, say_no_torch=True)
    peak = gemm_peak(min(rounds, 5))
    print(f"numpy float32 GEMM peak (1024^3): {peak:.1f} GFLOP/s")
    print()

    header = (
        f"{'case':<16} {'algorithm':<17} {'convcli ms':>10} {'torch ms':>9} {'ratio':>6} "
        f"{'median':>6} "
        f"{'GFLOP/s':>8} {'% peak':>7}  agrees"
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
        fns: dict[str, Callable[[], object]] = {
            "convcli": partial(convcli.conv2d, x, w, **case.options)
        }
        ours = convcli.conv2d(x, w, **case.options)
        assert ours.dtype == np.float32
        agrees = "-"
        if torch is not None:
            tx, tw = torch.from_numpy(x), torch.from_numpy(w)
            fns["torch"] = partial(F.conv2d, tx, tw, **case.options)
            theirs = F.conv2d(tx, tw, **case.options).numpy()
            ok = agrees_with_torch(ours, theirs)
            all_agree &= ok
            agrees = "yes" if ok else "NO"
        best = best_of_blocks(fns, rounds)
        gflops = 2 * case.macs / best["convcli"] / 1e9
        algorithm = choose_algorithm(case.input_shape, case.weight_shape, **case.options)
        torch_ms, ratio_text, median_text = torch_columns(best, ratios)
        print(
            f"{case.name:<16} {algorithm:<17} {best['convcli'] * 1e3:>10.3f} {torch_ms:>9} "
            f"{ratio_text:>6} {median_text:>6} {gflops:>8.1f} {100 * gflops / peak:>6.1f}%  "
            f"{agrees}"
        )
    print_summary(ratios, all_agree, len(header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
