"""Write the lesson's tensors to samples/ as JSON and .npy (run from the repo root).

    python scripts/make_samples.py

tests/test_samples.py checks that the files still equal convcli.ops.lesson's tensors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from convcli.ops.lesson import (
    lesson_1x1_input,
    lesson_1x1_kernel,
    lesson_input,
    lesson_kernel_multi_in,
    lesson_kernel_multi_out,
)

SAMPLES = {
    "lesson_X": lesson_input(),
    "lesson_K_multi_in": lesson_kernel_multi_in(),
    "lesson_K_multi_out": lesson_kernel_multi_out(),
    "lesson_1x1_X": lesson_1x1_input(),
    "lesson_1x1_K": lesson_1x1_kernel(),
    "lesson_bias": np.array([0.5, -1.0, 2.0], dtype=np.float32),
}


def main() -> None:
    folder = Path("samples")
    folder.mkdir(exist_ok=True)
    for name, array in SAMPLES.items():
        np.save(folder / f"{name}.npy", array, allow_pickle=False)
        # Four decimals are what the lesson printed; float32 holds them to within 1e-7.
        data = np.round(array.astype(np.float64), 4).tolist()
        text = json.dumps({"dtype": str(array.dtype), "data": data})
        (folder / f"{name}.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
