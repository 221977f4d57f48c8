"""Record ``torch.nn.functional.conv2d`` on random configurations as golden vectors.

Run from the repository root, with ``torch==2.13.0`` (CPU) installed::

    python scripts/make_golden.py

It writes ``tests/golden/conv2d_golden.npz`` (the tensors: ``<id>_x``, ``<id>_weight``,
``<id>_bias`` when there is one, and the expected ``<id>_out``) and
``tests/golden/conv2d_golden.json`` (the index: each case's options, dtype and a
``scale`` for tolerances). ``tests/test_golden.py`` replays every case through
``convcli.conv2d`` without torch.

The configurations come from a fixed seed and cycle through the option space so every
category is well covered: stride (int and pair), padding (default 0, int, pair,
"same" with odd and even kernels, "valid"), dilation, groups (1, grouped, depthwise),
bias or not, batched or not, and the dtypes float32, float64, bool, int8, uint8, int16,
int32 and int64. The last ``LARGE_CASES`` have more than 2**15 multiply-adds (many
channels and taps on small images: pointwise, dense, grouped and depthwise), so that
``conv2d``'s tiled kernels are checked against torch too; they come from their own
random stream, so the small cases stay the same when they change.

Integer and bool cases: torch's CPU conv2d computes int64 tensors, so integer inputs are
recorded as their own dtype and the expected int64 result comes from torch in int64.
Every integer case also stays below 2**53 in magnitude and is cross-checked against
torch in float64, where it is exact. Were int64 conv2d ever unsupported, the float64
result (integral, exact) is recorded instead. Float cases run in their own dtype.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20261126
CASES = 220
# Cases with more than 2**15 multiply-adds (many channels and taps, few pixels, so still
# small files): conv2d computes those with its tiled kernels, not its one-shot path.
LARGE_CASES = 36
LARGE_MACS = 2**15
DTYPES = (
    "float32",
    "float64",
    "float32",
    "float64",
    "bool",
    "int8",
    "uint8",
    "int16",
    "int32",
    "int64",
    "float32",
)
PADDINGS = ("default", "int", "pair", "same", "valid")
GROUPINGS = ("single", "grouped", "depthwise")
FLOAT64_EXACT = 2**53
OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "golden"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    arrays: dict[str, Any] = {}
    cases = []
    large_rng = np.random.default_rng(SEED + 1)  # its own stream: the small cases stay put
    drawn = [(index, rng, False) for index in range(CASES)]
    drawn += [(CASES + index, large_rng, True) for index in range(LARGE_CASES)]
    for index, generator, large in drawn:
        case, tensors = record_case(index, generator, large=large)
        cases.append(case)
        arrays.update({f"{case['id']}_{name}": value for name, value in tensors.items()})
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out_dir / "conv2d_golden.npz", **arrays)
    header = json.dumps({"seed": SEED, "torch_version": torch.__version__})[:-1]
    rows = ",\n".join(f"  {json.dumps(case)}" for case in cases)  # one case a line: short diffs
    (args.out_dir / "conv2d_golden.json").write_text(f'{header}, "cases": [\n{rows}\n]}}\n')
    print(f"wrote {len(cases)} cases to {args.out_dir}")


def record_case(
    index: int, rng: np.random.Generator, *, large: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw configuration number ``index`` and record torch's answer for it."""
    dtype = DTYPES[index % len(DTYPES)]
    padding_kind = PADDINGS[index % len(PADDINGS)]
    grouping = GROUPINGS[index % len(GROUPINGS)]
    batched = bool(rng.integers(2))
    with_bias = bool(rng.integers(2))

    pointwise = large and index % 4 == 0  # a plain 1x1 convolution is one GEMM
    if pointwise:
        grouping, padding_kind = "single", "default"
    if large:
        groups, c_i, c_o, k = _large_shape(rng, grouping, pointwise)
    elif grouping == "single":
        groups, c_i, c_o = 1, int(rng.integers(1, 5)), int(rng.integers(1, 5))
    elif grouping == "grouped":
        groups = int(rng.integers(2, 4))
        c_i, c_o = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    else:
        groups = c_i = int(rng.integers(2, 5))
        c_o = c_i * int(rng.integers(1, 3))
    if not large:
        k = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    if padding_kind == "same" and index % 2:
        k = (k[0] + k[0] % 2, k[1])  # an even kernel: the extra padding goes bottom/right
    dilation = _int_or_pair(rng, 1, 3, chance_one=0.5)
    stride = 1 if padding_kind == "same" else _int_or_pair(rng, 1, 3, chance_one=0.3)
    padding: Any
    if padding_kind == "int":
        padding = int(rng.integers(1, 4))
    elif padding_kind == "pair":
        padding = [int(rng.integers(0, 4)), int(rng.integers(0, 4))]
    elif padding_kind in ("same", "valid"):
        padding = padding_kind
    else:
        padding = 0

    d = (dilation, dilation) if isinstance(dilation, int) else dilation
    p = _total_padding(padding, k, d)
    # Just big enough for the dilated kernel, plus 0..5 (0: the kernel just fits).
    size = [max(1, d[a] * (k[a] - 1) + 1 - p[a]) + int(rng.integers(0, 6)) for a in (0, 1)]
    n = int(rng.integers(1, 4))
    if large:
        # Small strides and images: the channels and taps supply the multiply-adds.
        stride = 1 if pointwise or stride == 1 else [min(s, 2) for s in _as_list(stride)]
        while _macs(n if batched else 1, c_o, c_i // groups, k, size, stride, d, p) <= LARGE_MACS:
            size = [size[0] + 1, size[1] + 1]
    x_shape = (n, c_i, *size) if batched else (c_i, *size)
    w_shape = (c_o, c_i // groups, *k)

    x, weight = _values(rng, dtype, x_shape), _values(rng, dtype, w_shape)
    bias = _values(rng, dtype, (c_o,)) if with_bias else None
    options: dict[str, Any] = {
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
    }
    out, torch_dtype = _torch_conv2d(dtype, x, weight, bias, options)
    scale = _torch_conv2d_abs(x, weight, bias, options)

    case = {
        "id": f"case{index:03d}",
        "dtype": dtype,
        "torch_dtype": torch_dtype,
        "batched": batched,
        "bias": with_bias,
        **options,
        "x_shape": list(x_shape),
        "weight_shape": list(w_shape),
        "out_shape": list(out.shape),
        "scale": scale,
    }
    tensors = {"x": x, "weight": weight, "out": out}
    if bias is not None:
        tensors["bias"] = bias
    return case, tensors


def _large_shape(
    rng: np.random.Generator, grouping: str, pointwise: bool
) -> tuple[int, int, int, tuple[int, int]]:
    """groups, c_i, c_o and kernel of a large case: channels and taps, not pixels, add up."""
    if pointwise:
        return 1, int(rng.integers(8, 17)), int(rng.integers(8, 17)), (1, 1)
    k = (int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    if grouping == "single":
        return 1, int(rng.integers(4, 9)), int(rng.integers(4, 9)), k
    if grouping == "grouped":
        groups = int(rng.integers(2, 4))
        return groups, groups * int(rng.integers(2, 5)), groups * int(rng.integers(2, 5)), k
    c_i, k = int(rng.integers(6, 11)), (int(rng.integers(3, 6)), int(rng.integers(3, 6)))
    return c_i, c_i, c_i * int(rng.integers(2, 4)), k


def _macs(
    n: int, c_o: int, c_per_group: int, k: tuple[int, int], size: Any, stride: Any, d: Any, p: Any
) -> int:
    s = (stride, stride) if isinstance(stride, int) else stride
    out = [(size[a] + p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in (0, 1)]
    return int(n * c_o * out[0] * out[1] * c_per_group * k[0] * k[1])


def _as_list(value: Any) -> list[int]:
    return [value, value] if isinstance(value, int) else list(value)


def _int_or_pair(rng: np.random.Generator, low: int, high: int, chance_one: float) -> Any:
    if rng.random() < chance_one:
        return 1
    if rng.integers(2):
        return int(rng.integers(low, high + 1))
    return [int(rng.integers(low, high + 1)), int(rng.integers(low, high + 1))]


def _total_padding(padding: Any, k: tuple[int, int], d: Any) -> tuple[int, int]:
    if padding == "same":
        return (d[0] * (k[0] - 1), d[1] * (k[1] - 1))
    if padding == "valid":
        return (0, 0)
    if isinstance(padding, int):
        return (2 * padding, 2 * padding)
    return (2 * padding[0], 2 * padding[1])


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> Any:
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dtype)
    # Below 2**20 so every integer case is exact in float64 too (the cross-check).
    low, high = max(int(info.min), -(2**20)), min(int(info.max), 2**20)
    return rng.integers(low, high, shape, endpoint=True).astype(dtype)


def _torch_args(options: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def _call(x: Any, weight: Any, bias: Any, options: dict[str, Any], dtype: Any) -> Any:
    def tensor(a: Any) -> Any:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(dtype)

    with warnings.catch_warnings():
        # torch warns that "same" with an even kernel copies the input; that is expected.
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        return F.conv2d(tensor(x), tensor(weight), tensor(bias), **_torch_args(options))


def _torch_conv2d(
    dtype: str, x: Any, weight: Any, bias: Any, options: dict[str, Any]
) -> tuple[Any, str]:
    if dtype.startswith("float"):
        return _call(x, weight, bias, options, getattr(torch, dtype)).numpy(), dtype
    as_float = _call(x, weight, bias, options, torch.float64).numpy()
    bound = _torch_conv2d_abs(x, weight, bias, options)
    assert bound < FLOAT64_EXACT, "integer cases must be exact in float64"
    try:
        out = _call(x, weight, bias, options, torch.int64).numpy()
    except (RuntimeError, NotImplementedError):
        return as_float.astype(np.int64), "float64"
    assert np.array_equal(out, as_float), "torch int64 and float64 disagree"
    return out, "int64"


def _torch_conv2d_abs(x: Any, weight: Any, bias: Any, options: dict[str, Any]) -> float:
    """The largest sum of |x| |w| (+ |bias|) of any output: the scale of rounding errors."""
    x_abs, weight_abs, bias_abs = (
        None if a is None else np.abs(a.astype(np.float64)) for a in (x, weight, bias)
    )
    return float(_call(x_abs, weight_abs, bias_abs, options, torch.float64).max())


if __name__ == "__main__":
    main()
