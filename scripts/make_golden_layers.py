"""Record PyTorch's transposed convolution and pooling on random configurations as golden vectors.

Run from the repository root, with ``torch==2.13.0`` (CPU) installed::

    python scripts/make_golden_layers.py

The sibling of ``scripts/make_golden.py``: it writes ``tests/golden/layers_golden.npz``
(``<id>_x``, ``<id>_weight`` and ``<id>_bias`` where the operation has them, the
expected ``<id>_out``, and for max pooling ``<id>_indices``, PyTorch's
``return_indices``) and ``tests/golden/layers_golden.json`` (each case's operation,
arguments, dtype and a ``scale`` for tolerances). ``tests/test_golden_layers.py`` replays
every case through convcli without torch.

Cases cycle through the option space from a fixed seed:

- ``conv_transpose2d``: stride, padding, output_padding up to its limit (below the stride
  or the dilation), dilation, groups, bias, batch; float32, float64 and integers (torch
  computes those in int64 on the CPU; the values keep every sum exact in float64 too);
- ``max_pool2d``: stride (default: the window), padding up to half the window, dilation,
  ceil mode (with windows dropped in the right padding), rectangular windows; float32,
  float64 with NaN and infinities, and int64;
- ``avg_pool2d``: ceil mode, count_include_pad, divisor_override; float32 and float64;
- ``adaptive_avg_pool2d`` and ``adaptive_max_pool2d``: output sizes that divide the input
  and that do not, larger than the input too;
- then ``max_pool2d`` and ``adaptive_max_pool2d`` over inputs drawn from -0, 0, NaN, -1, 1
  and -inf (``"signed_zeros": true``), whose zeros' signs are replayed too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20261130
OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "golden"
COUNTS = {
    "conv_transpose2d": 80,
    "max_pool2d": 50,
    "avg_pool2d": 50,
    "adaptive_avg_pool2d": 20,
    "adaptive_max_pool2d": 20,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    arrays: dict[str, Any] = {}
    cases = []
    index = 0
    for op, count in COUNTS.items():
        for k in range(count):
            case, tensors = RECORDERS[op](rng, k)
            case = {"id": f"case{index:03d}", "op": op, **case}
            cases.append(case)
            arrays.update({f"{case['id']}_{name}": value for name, value in tensors.items()})
            index += 1
    # Then, from the same stream (the cases above stay byte-identical): max pooling over
    # inputs rich in signed zeros and NaN, where the scan's order decides the result.
    for op, count in SIGNED_ZERO_COUNTS.items():
        for k in range(count):
            case, tensors = record_signed_zeros(rng, k, op)
            case = {"id": f"case{index:03d}", "op": op, **case}
            cases.append(case)
            arrays.update({f"{case['id']}_{name}": value for name, value in tensors.items()})
            index += 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out_dir / "layers_golden.npz", **arrays)
    header = json.dumps({"seed": SEED, "torch_version": torch.__version__})[:-1]
    rows = ",\n".join(f"  {json.dumps(case)}" for case in cases)
    (args.out_dir / "layers_golden.json").write_text(f'{header}, "cases": [\n{rows}\n]}}\n')
    print(f"wrote {len(cases)} cases to {args.out_dir}")


def _pair(rng: np.random.Generator, low: int, high: int) -> Any:
    if rng.integers(2):
        return int(rng.integers(low, high + 1))
    return [int(rng.integers(low, high + 1)), int(rng.integers(low, high + 1))]


def _as_pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def _torch_args(options: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> Any:
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-1000, 1000, shape, endpoint=True).astype(dtype)


def _tensor(a: Any) -> Any:
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


def record_transposed(rng: np.random.Generator, k_index: int) -> tuple[dict[str, Any], Any]:
    dtype = ("float32", "float64", "int64", "int32", "float32")[k_index % 5]
    groups = (1, 1, 2, 3)[k_index % 4]
    c_i, c_og = groups * int(rng.integers(1, 4)), int(rng.integers(1, 4))
    kernel = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    stride, dilation = _pair(rng, 1, 3), _pair(rng, 1, 3)
    s, d = _as_pair(stride), _as_pair(dilation)
    size = (int(rng.integers(1, 7)), int(rng.integers(1, 7)))
    op = [int(rng.integers(0, max(s[a], d[a]))) for a in (0, 1)]
    most = [((size[a] - 1) * s[a] + d[a] * (kernel[a] - 1) + op[a]) // 2 for a in (0, 1)]
    padding = [int(rng.integers(0, min(3, most[a]) + 1)) for a in (0, 1)]
    batched = bool(rng.integers(2))
    x_shape = (int(rng.integers(1, 3)), c_i, *size) if batched else (c_i, *size)
    x = _values(rng, dtype, x_shape)
    weight = _values(rng, dtype, (c_i, c_og, *kernel))
    bias = _values(rng, dtype, (c_og * groups,)) if rng.integers(2) else None
    options = {
        "stride": stride,
        "padding": padding if padding[0] != padding[1] else padding[0],
        "output_padding": op if op[0] != op[1] else op[0],
        "groups": groups,
        "dilation": dilation,
    }
    torch_dtype = torch.float64 if dtype.startswith("int") else getattr(torch, dtype)

    def call(xs: Any, ws: Any, bs: Any) -> Any:
        return F.conv_transpose2d(
            _tensor(xs).to(torch_dtype),
            _tensor(ws).to(torch_dtype),
            None if bs is None else _tensor(bs).to(torch_dtype),
            **_torch_args(options),
        ).numpy()

    out = call(x, weight, bias)
    if dtype.startswith("int"):
        exact = F.conv_transpose2d(
            _tensor(x).to(torch.int64),
            _tensor(weight).to(torch.int64),
            None if bias is None else _tensor(bias).to(torch.int64),
            **_torch_args(options),
        ).numpy()
        assert np.array_equal(exact, out), "torch int64 and float64 disagree"
        out = exact
    scale = float(
        call(np.abs(x).astype(np.float64), np.abs(weight).astype(np.float64),
             None if bias is None else np.abs(bias).astype(np.float64)).max()
    )  # fmt: skip
    tensors = {"x": x, "weight": weight, "out": out}
    if bias is not None:
        tensors["bias"] = bias
    case = {"dtype": dtype, "options": options, "bias": bias is not None, "scale": scale}
    return case, tensors


def _pool_input(rng: np.random.Generator, dtype: str, size: tuple[int, int]) -> Any:
    batched = bool(rng.integers(2))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *size)
    x = _values(rng, dtype, shape if batched else shape[1:])
    if dtype == "float64" and x.size > 2 and rng.integers(2):  # NaN and infinities
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size)] = np.nan
        flat[rng.integers(0, flat.size)] = np.inf
        flat[rng.integers(0, flat.size)] = -np.inf
    return x


def _pool_geometry(rng: np.random.Generator, max_pool: bool) -> tuple[dict[str, Any], Any]:
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = None if rng.integers(3) == 0 else _pair(rng, 1, 3)
    padding = [int(rng.integers(0, kernel[a] // 2 + 1)) for a in (0, 1)]
    dilation = _pair(rng, 1, 3) if max_pool else 1
    d = _as_pair(dilation)
    size = tuple(
        max(1, d[a] * (kernel[a] - 1) + 1 - 2 * padding[a]) + int(rng.integers(0, 5))
        for a in (0, 1)
    )
    options: dict[str, Any] = {
        "kernel_size": kernel[0] if kernel[0] == kernel[1] else list(kernel),
        "stride": stride,
        "padding": padding[0] if padding[0] == padding[1] else padding,
        "ceil_mode": bool(rng.integers(2)),
    }
    if max_pool:
        options["dilation"] = dilation
    return options, size


def record_max(rng: np.random.Generator, k_index: int) -> tuple[dict[str, Any], Any]:
    dtype = ("float32", "float64", "int64")[k_index % 3]
    options, size = _pool_geometry(rng, True)
    x = _pool_input(rng, dtype, size)
    out, indices = F.max_pool2d(_tensor(x), **_torch_args(options), return_indices=True)
    return {"dtype": dtype, "options": options}, {
        "x": x,
        "out": out.numpy(),
        "indices": indices.numpy(),
    }


def record_avg(rng: np.random.Generator, k_index: int) -> tuple[dict[str, Any], Any]:
    dtype = ("float32", "float64")[k_index % 2]
    options, size = _pool_geometry(rng, False)
    options["count_include_pad"] = bool(rng.integers(2))
    options["divisor_override"] = (None, None, 3, -2)[k_index % 4]
    x = _pool_input(rng, dtype, size)
    out = F.avg_pool2d(_tensor(x), **_torch_args(options)).numpy()
    magnitudes = F.avg_pool2d(_tensor(np.abs(x).astype(np.float64)), **_torch_args(options))
    finite = magnitudes.abs()[torch.isfinite(magnitudes)]
    scale = float(finite.max()) if finite.numel() else 1.0
    return {"dtype": dtype, "options": options, "scale": scale}, {"x": x, "out": out}


def _adaptive(rng: np.random.Generator, k_index: int, op: Any) -> tuple[dict[str, Any], Any]:
    dtype = ("float32", "float64")[k_index % 2]
    size = (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
    output_size = _pair(rng, 1, 9)
    x = _pool_input(rng, dtype, size)
    size_arg = tuple(output_size) if isinstance(output_size, list) else output_size
    recorded = {"x": x}
    if op is F.adaptive_max_pool2d:
        out, indices = op(_tensor(x), size_arg, return_indices=True)
        recorded["indices"] = indices.numpy()
    else:
        out = op(_tensor(x), size_arg)
    scale = float(np.nanmax(np.abs(x[np.isfinite(x)]))) if np.isfinite(x).any() else 1.0
    case = {"dtype": dtype, "options": {"output_size": output_size}, "scale": scale}
    return case, {**recorded, "out": out.numpy()}


SIGNED_ZERO_COUNTS = {"max_pool2d": 12, "adaptive_max_pool2d": 8}
SIGNED_ZERO_VALUES = np.array([-0.0, 0.0, np.nan, -1.0, 1.0, -np.inf])


def record_signed_zeros(
    rng: np.random.Generator, k_index: int, op: str
) -> tuple[dict[str, Any], Any]:
    """A max pooling of values drawn from -0, 0, NaN, -1, 1 and -inf: the sign of a zero
    maximum is the first zero's in PyTorch's scan, a NaN the last one's."""
    dtype = ("float32", "float64")[k_index % 2]
    if op == "max_pool2d":
        options, size = _pool_geometry(rng, True)
        size_arg: Any = None
    else:
        size = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        output_size = _pair(rng, 1, 6)
        options = {"output_size": output_size}
        size_arg = tuple(output_size) if isinstance(output_size, list) else output_size
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *size)
    x = rng.choice(SIGNED_ZERO_VALUES, shape).astype(dtype)
    if op == "max_pool2d":
        out, indices = F.max_pool2d(_tensor(x), **_torch_args(options), return_indices=True)
    else:
        out, indices = F.adaptive_max_pool2d(_tensor(x), size_arg, return_indices=True)
    case = {"dtype": dtype, "options": options, "scale": 1.0, "signed_zeros": True}
    return case, {"x": x, "out": out.numpy(), "indices": indices.numpy()}


RECORDERS: dict[str, Any] = {
    "conv_transpose2d": record_transposed,
    "max_pool2d": record_max,
    "avg_pool2d": record_avg,
    "adaptive_avg_pool2d": lambda rng, k: _adaptive(rng, k, F.adaptive_avg_pool2d),
    "adaptive_max_pool2d": lambda rng, k: _adaptive(rng, k, F.adaptive_max_pool2d),
}


if __name__ == "__main__":
    main()
