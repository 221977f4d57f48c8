"""The lesson's tensors as the sample files the README's examples use.

``convcli demo --write DIR`` writes them, so an installed convcli can run every example
without the repository; ``scripts/make_samples.py`` writes the repository's ``samples/``.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from convcli.errors import OptionError, Param
from convcli.i18n import _
from convcli.ops.lesson import (
    lesson_1x1_input,
    lesson_1x1_kernel,
    lesson_input,
    lesson_kernel_multi_in,
    lesson_kernel_multi_out,
)
from convcli.tensorio.files import staged_output

__all__ = ["sample_arrays", "sample_names", "write_samples"]


def sample_arrays() -> dict[str, npt.NDArray[Any]]:
    """The sample tensors by file stem (each is written as ``.json`` and ``.npy``).

    Examples
    --------
    >>> sorted(sample_arrays())[2:4], sample_arrays()["lesson_X"].shape
    (['lesson_1x1_K', 'lesson_1x1_X'], (2, 3, 3))
    """
    return {
        "lesson_X": lesson_input(),
        "lesson_K_multi_in": lesson_kernel_multi_in(),
        "lesson_K_multi_out": lesson_kernel_multi_out(),
        "lesson_1x1_X": lesson_1x1_input(),
        "lesson_1x1_K": lesson_1x1_kernel(),
        "lesson_bias": np.array([0.5, -1.0, 2.0], dtype=np.float32),
        # The same X and K in TensorFlow's layouts (--input-layout nhwc, --kernel-layout hwio).
        "lesson_X_nhwc": np.ascontiguousarray(lesson_input().transpose(1, 2, 0)),
        "lesson_K_multi_out_hwio": np.ascontiguousarray(
            lesson_kernel_multi_out().transpose(2, 3, 1, 0)
        ),
        # compose and learn (exercises 1 and d2l 6.2.4): Sobel's two halves, d2l's edges
        "sobel_column": np.array([[[[1], [2], [1]]]], dtype=np.float32),
        "sobel_row": np.array([[[[1, 0, -1]]]], dtype=np.float32),
        "edges_X": edges_input(),
        "edges_Y": edges_target(),
    }


def edges_input() -> npt.NDArray[np.float32]:
    """d2l's 6x8 image of ones with a dark band in columns 2 to 5."""
    x = np.ones((6, 8), dtype=np.float32)
    x[:, 2:6] = 0
    return x


def edges_target() -> npt.NDArray[np.float32]:
    """``corr2d(edges_input(), [[1, -1]])``: 1 where the band starts, -1 where it ends."""
    x = edges_input()
    return x[:, :-1] - x[:, 1:]


def sample_names() -> list[str]:
    """The file names ``write_samples`` writes.

    Examples
    --------
    >>> len(sample_names()), sample_names()[:2]
    (24, ['lesson_X.json', 'lesson_X.npy'])
    """
    return [f"{stem}.{ext}" for stem in sample_arrays() for ext in ("json", "npy")]


def write_samples(folder: str | Path, *, force: bool = False) -> list[Path]:
    """Write the sample files into ``folder`` (created if missing); returns their paths.

    Refuses, writing nothing, when one of them exists, unless ``force``.
    """
    folder = Path(folder)
    paths = [folder / name for name in sample_names()]
    if folder.exists() and not folder.is_dir():
        raise OptionError(_("{folder}: not a directory").format(folder=folder))
    existing = [path for path in paths if path.exists()]
    if existing and not force:
        raise OptionError(
            _(
                "{existing_0} exists ({len_existing} of the {len_paths} sample files do): use "
                "{force} to overwrite them, or write to another directory"
            ),
            existing_0=existing[0],
            len_existing=len(existing),
            len_paths=len(paths),
            force=Param("force", True),
        )
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        # All or nothing: every file is staged before the first one is renamed into place.
        with contextlib.ExitStack() as stack:
            staged = []
            for stem, array in sample_arrays().items():
                npy = stack.enter_context(staged_output(folder / f"{stem}.npy", force=force))
                npy.write(array)
                # Four decimals are what the lesson printed; float32 holds them to within 1e-7.
                data = np.round(array.astype(np.float64), 4).tolist()
                text = json.dumps({"dtype": str(array.dtype), "data": data}) + "\n"
                as_json = stack.enter_context(staged_output(folder / f"{stem}.json", force=force))
                as_json.write_bytes(text.encode("utf-8"))
                staged += [npy, as_json]
            for output in staged:
                output.commit()
    except BaseException:
        if created:  # the folder made for the samples goes with them
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return paths
