"""Timing and report code shared by ``bench_conv.py`` and ``bench_layers.py``.

Timing is in blocks, never call-by-call alternation (see ``bench_conv.py``'s docstring).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import convcli


def rounds_from_args(doc: str | None, argv: list[str] | None) -> tuple[int, list[str]]:
    """Parse ``--quick`` (5 rounds with it, 15 without) and ``--case`` (repeatable: run
    only the cases whose name contains one of these words; all when none is given)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--case", action="append", default=[], help="run only cases whose name contains this"
    )
    args = parser.parse_args(argv)
    return (5 if args.quick else 15), args.case


def selected(name: str, words: list[str]) -> bool:
    """Whether a case named ``name`` is run under ``--case words``."""
    return not words or any(word in name for word in words)


def import_torch() -> tuple[Any, Any]:
    """``(torch, torch.nn.functional)``, or ``(None, None)`` when torch is not importable."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None, None
    return torch, F


def time_block(fn: Callable[[], object], calls: int) -> float:
    """Median seconds per call over one block of ``calls`` back-to-back calls."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def calls_for(seconds_per_call: float) -> int:
    """Enough calls for a block of about 50 ms (at least 3, at most 200)."""
    return max(3, min(200, int(0.05 / max(seconds_per_call, 1e-7))))


def best_of_blocks(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each round runs one block per library (a pause between); best median per library.

    With two libraries the result also holds ``"median ratio"``: the median over the
    rounds of the first library's block median over the second's, blocks interleaved
    (the issue's measure; less flattering than best over best on a loaded host).
    """
    calls = {}
    for name, fn in fns.items():
        fn()  # warm up: first-call allocations, thread start
        start = time.perf_counter()
        fn()
        calls[name] = calls_for(time.perf_counter() - start)
    best = dict.fromkeys(fns, math.inf)
    per_round: list[list[float]] = []
    for _ in range(rounds):
        medians = []
        for name, fn in fns.items():
            time.sleep(0.05)
            seconds = time_block(fn, calls[name])
            medians.append(seconds)
            best[name] = min(best[name], seconds)
        per_round.append(medians)
    if len(fns) == 2:
        best["median ratio"] = statistics.median(a / b for a, b in per_round)
    return best


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    parts = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            parts.append(
                f"{pool.get('internal_api')} {pool.get('version')} "
                f"kernel={pool.get('architecture') or pool.get('corename')} "
                f"threads={pool.get('num_threads')}"
            )
    return "; ".join(parts) or "no BLAS found by threadpoolctl"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_versions(torch: Any, *, say_no_torch: bool) -> None:
    """Print the python/numpy/convcli, BLAS and torch versions and the CPU (torch may be None)."""
    print(
        f"python {platform.python_version()}  numpy {np.__version__}  convcli {convcli.__version__}"
    )
    print(f"BLAS: {blas_info()}")
    if torch is not None:
        print(f"torch {torch.__version__} (threads={torch.get_num_threads()})")
    elif say_no_torch:
        print("torch: not importable, convcli timings only")
    print(f"CPU: {cpu_model()}")


def agrees_with_torch(ours: Any, theirs: Any) -> bool:
    """The tolerance every benchmark reports: allclose, rtol=atol=1e-4."""
    return bool(np.allclose(ours, theirs, rtol=1e-4, atol=1e-4))


def torch_columns(best: dict[str, float], ratios: list[float]) -> tuple[str, str, str]:
    """The "torch ms", "ratio" (best over best) and "median ratio" (interleaved rounds)
    cells ("-" without torch); appends the median ratio to ``ratios``."""
    if "torch" not in best:
        return "-", "-", "-"
    ratio = best["convcli"] / best["torch"]
    ratios.append(best["median ratio"])
    return f"{best['torch'] * 1e3:.3f}", f"{ratio:.2f}", f"{best['median ratio']:.2f}"


def print_summary(ratios: list[float], all_agree: bool, width: int) -> None:
    """The closing lines: geometric mean and worst ratio, and whether all cases agree."""
    if not ratios:
        return
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print("-" * width)
    print(
        f"geometric mean of the median ratios (convcli/torch): {geomean:.2f}   "
        f"worst: {max(ratios):.2f}"
    )
    print(f"results agree with torch (allclose, rtol=atol=1e-4): {'yes' if all_agree else 'NO'}")
