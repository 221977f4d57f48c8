"""The lesson's tensors, as printed in the Dive into Deep Learning study note.

``convcli demo`` replays the lesson from these; ``samples/`` holds the same tensors
as files. The 1x1 tensors are the note's random normal draws, as it printed them
(four decimals), so the matrix product reproduces its printed result.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "lesson_1x1_input",
    "lesson_1x1_kernel",
    "lesson_1x1_printed_output",
    "lesson_input",
    "lesson_kernel_multi_in",
    "lesson_kernel_multi_out",
]


def lesson_input() -> npt.NDArray[np.float32]:
    """X: two 3x3 channels, ``[[0..8]]`` and ``[[1..9]]`` (shape 2x3x3)."""
    base = np.arange(9, dtype=np.float32).reshape(3, 3)
    return np.stack([base, base + 1])


def lesson_kernel_multi_in() -> npt.NDArray[np.float32]:
    """K: one 2x2 kernel per input channel (shape 2x2x2)."""
    return np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]], dtype=np.float32)


def lesson_kernel_multi_out() -> npt.NDArray[np.float32]:
    """K, K+1 and K+2 stacked: three output channels (shape 3x2x2x2)."""
    k = lesson_kernel_multi_in()
    return np.stack([k, k + 1, k + 2])


def lesson_1x1_input() -> npt.NDArray[np.float32]:
    """The note's X for the 1x1 check (shape 3x3x3)."""
    return np.array(
        [
            [[-2.2823, -0.8331, -0.8059], [-0.7143, -0.5921, 1.0605], [-1.2789, -0.5802, 0.0334]],
            [[0.2139, 0.3961, -0.1117], [0.6905, -1.4285, -0.3292], [2.1695, 0.3954, -1.7959]],
            [[2.0091, 1.7758, -0.0570], [1.1330, 0.6528, 1.0920], [-0.9390, 1.3047, -0.2772]],
        ],
        dtype=np.float32,
    )


def lesson_1x1_kernel() -> npt.NDArray[np.float32]:
    """The note's K for the 1x1 check (shape 2x3x1x1)."""
    return np.array(
        [[0.7333, -0.9500, -0.4692], [0.5505, 0.2558, -0.1276]], dtype=np.float32
    ).reshape(2, 3, 1, 1)


def lesson_1x1_printed_output() -> npt.NDArray[np.float32]:
    """Y as the note printed it (four decimals), to compare against."""
    return np.array(
        [
            [[-2.8195, -1.8205, -0.4582], [-1.7115, 0.6166, 0.5781], [-2.5583, -1.4133, 1.8607]],
            [[-1.4581, -0.5839, -0.4650], [-0.3612, -0.7747, 0.3602], [-0.0292, -0.3848, -0.4056]],
        ],
        dtype=np.float32,
    )
