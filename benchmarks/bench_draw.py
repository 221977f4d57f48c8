"""How long ``convcli draw`` takes to write a 64-frame animation (target: well under 3 s).

    python benchmarks/bench_draw.py

Times the whole command (start-up included; wall and CPU time, the second less
sensitive to a busy machine) and, in-process, the figures, the layout and
the GIF writing, median of 5 runs each: an 8x8 input, a 3x3 kernel, padding 1, so 64
output cells and 64 frames; and the same from tensor files (values in every cell).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from convcli.draw.conv import ConvProblem, conv_figures
from convcli.draw.output import scenes_of
from convcli.draw.raster import write_gif
from convcli.shapes.options import ConvOptions

RUNS = 5


def median(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:7.0f} ms"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = os.path.join(folder, "a.gif")
        x = np.arange(64, dtype=np.int64).reshape(1, 8, 8) % 10
        w = np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]]])
        np.save(os.path.join(folder, "x.npy"), x)
        np.save(os.path.join(folder, "w.npy"), w)
        commands = {
            "convcli draw (shapes, 64 frames)": [
                "--input-shape", "8x8", "--kernel-shape", "3x3", "-p", "1",
            ],
            "convcli draw (values, 64 frames)": [
                os.path.join(folder, "x.npy"), os.path.join(folder, "w.npy"), "-p", "1",
            ],
        }  # fmt: skip
        for name, args in commands.items():
            times, cpu = [], []
            for _ in range(RUNS):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "convcli", "draw", *args, "-o", target, "--force"],
                    check=True,
                    stderr=subprocess.DEVNULL,
                )
                times.append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            size = Path(target).stat().st_size
            print(f"  {name:36} {median(times)} wall, {median(cpu)} CPU  ({size} bytes)")
        stages: dict[str, list[float]] = {"figures": [], "layout": [], "gif": []}
        for _ in range(RUNS):
            t0 = time.perf_counter()
            figures = conv_figures(
                ConvProblem(x.shape, w.shape, ConvOptions(padding=1), x, w), animate=True
            )
            t1 = time.perf_counter()
            scenes = scenes_of(figures)
            t2 = time.perf_counter()
            write_gif(scenes, target)
            t3 = time.perf_counter()
            stages["figures"].append(t1 - t0)
            stages["layout"].append(t2 - t1)
            stages["gif"].append(t3 - t2)
        for stage, times in stages.items():
            print(f"  in-process {stage:25} {median(times)}")


if __name__ == "__main__":
    main()
