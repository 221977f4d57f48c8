"""Whole-process measurements of the ``convcli`` command: start-up time and peak memory.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_process.py
    python benchmarks/bench_process.py --startup-only   # skips the 256 MiB memory run

Start-up: the median wall time and CPU time of ``convcli --help`` and of ``convcli run``
on the lesson sample, against a bare ``python -c "import numpy"`` (targets: ``--help`` at
most 1.2x, ``run`` at most 2.0x), runs interleaved. On a loaded machine the CPU time is
the steadier figure; find what a command imports with ``python -X importtime -m convcli ...``
(``tests/test_startup.py`` keeps out the modules the lesson's run does not use).

Memory: ``convcli run`` on a (1,64,1024,1024) float32 input (256 MiB) with a (64,64,3,3)
kernel, padding 1, ``--output y.npy``; its peak RSS against input + output + 300 MiB.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024**2


def convcli_command() -> list[str]:
    found = shutil.which("convcli", path=os.path.dirname(sys.executable))
    return [found] if found else [sys.executable, "-m", "convcli"]


def timed_run(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def startup(runs: int) -> None:
    convcli = convcli_command()
    cases = {
        'python -c "import numpy"': [sys.executable, "-c", "import numpy"],
        "convcli --help": [*convcli, "--help"],
        "convcli run (lesson sample)": [
            *convcli,
            "run",
            "samples/lesson_X.json",
            "samples/lesson_K_multi_in.json",
        ],
    }
    for command in cases.values():  # warm the file cache
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    # Interleaved (each round runs every command once), so all see the same moments of
    # a shared machine; CPU time is the steadier measure when other work competes.
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, command in cases.items():
            times[name].append(timed_run(command))
    print(f"start-up, median of {runs} interleaved runs: wall time, then CPU time")
    base_wall = base_cpu = 0.0
    for name, pairs in times.items():
        wall = statistics.median(wall for wall, _ in pairs)
        cpu = statistics.median(cpu for _, cpu in pairs)
        base_wall, base_cpu = base_wall or wall, base_cpu or cpu
        print(
            f"  {name:30s} {wall * 1000:7.1f} ms {wall / base_wall:5.2f}x   "
            f"CPU {cpu * 1000:7.1f} ms {cpu / base_cpu:5.2f}x import numpy"
        )


def peak_memory() -> None:
    with tempfile.TemporaryDirectory() as folder:
        x_path, w_path, y_path = (Path(folder) / name for name in ("x.npy", "w.npy", "y.npy"))
        rng = np.random.default_rng(0)
        np.save(x_path, rng.standard_normal((1, 64, 1024, 1024), dtype=np.float32))
        np.save(w_path, rng.standard_normal((64, 64, 3, 3), dtype=np.float32))
        command = [*convcli_command(), "run", str(x_path), str(w_path), "-p", "1"]
        start = time.perf_counter()
        subprocess.run([*command, "--output", str(y_path)], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        # ru_maxrss of the children: kilobytes on Linux.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        size = os.path.getsize(x_path) + os.path.getsize(y_path)
        budget = size + 300 * MIB
        print("memory: run (1,64,1024,1024) float32 x (64,64,3,3), padding 1, --output y.npy")
        print(
            f"  peak RSS {peak / MIB:.0f} MiB, budget input + output + 300 MiB = "
            f"{budget / MIB:.0f} MiB: {'within' if peak <= budget else 'OVER'}; {seconds:.1f} s"
        )


def main(argv: list[str]) -> None:
    startup(runs=5 if "--quick" in argv else 15)
    if "--startup-only" not in argv:
        peak_memory()


if __name__ == "__main__":
    main(sys.argv[1:])
