"""Record ``torch.autograd``'s gradients of conv2d, conv_transpose2d and pooling as golden vectors.

Run from the repository root, with ``torch==2.13.0`` (CPU) installed::

    python scripts/make_golden_grad.py

Writes ``tests/golden/grad_golden.npz`` (``<id>_x``, ``<id>_weight``, ``<id>_bias`` where the
operation has them, the ``<id>_dy`` fed to ``backward`` and the expected ``<id>_gx``,
``<id>_gw``, ``<id>_gb``) and ``tests/golden/grad_golden.json`` (each case's operation,
arguments, dtype and a ``scale`` for tolerances). ``tests/test_golden_grad.py`` replays
every case through convcli without torch.

Cases from a fixed seed:

- ``conv2d``: stride, padding (ints, pairs, "same"), dilation, groups (depthwise too),
  every padding mode, ``flip``, bias, batch; float32, float64 and int64 (autograd runs in
  float64 on the same integer values; every sum is exact there);
- ``conv_transpose2d``: as ``scripts/make_golden_layers.py`` draws it;
- ``max_pool2d`` (ties from small integer values, and NaN), ``avg_pool2d`` (ceil mode,
  count_include_pad, divisor_override) and the adaptive poolings;
- last, conv2d and conv_transpose2d again in float64 with an inf, -inf or NaN placed in
  the kernel, the input or ``dY`` (the case's ``nonfinite``): PyTorch's float64 CPU path
  is its reference im2col/col2im (float32 runs oneDNN, whose NaN pattern differs from it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_golden_layers import _as_pair, _pair, _pool_geometry, _tensor, _torch_args

SEED = 20261206
OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "golden"
MODES = ("zeros", "reflect", "replicate", "circular")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    arrays: dict[str, Any] = {}
    cases = []
    plan = [
        ("conv2d", record_conv, 60),
        ("conv_transpose2d", record_transposed, 30),
        ("max_pool2d", record_max, 20),
        ("avg_pool2d", record_avg, 20),
        ("adaptive_max_pool2d", record_adaptive, 8),
        ("adaptive_avg_pool2d", record_adaptive, 8),
        ("conv2d", record_conv, 18),
        ("conv_transpose2d", record_transposed, 12),
    ]
    nonfinite = {"conv2d": 60, "conv_transpose2d": 30}  # the plain cases before these
    index = 0
    seen: dict[str, int] = {}
    for op, recorder, count in plan:
        k = 0
        special = seen.get(op, 0) >= nonfinite.get(op, count)
        seen[op] = seen.get(op, 0) + count
        while k < count:
            recorded = (
                recorder(rng, k, op, SPECIAL_PLACES[k % 3]) if special else recorder(rng, k, op)
            )
            if recorded is None:  # a configuration torch refuses: draw again
                continue
            case, tensors = recorded
            case = {"id": f"case{index:03d}", "op": op, **case}
            cases.append(case)
            arrays.update({f"{case['id']}_{name}": value for name, value in tensors.items()})
            index += 1
            k += 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out_dir / "grad_golden.npz", **arrays)
    header = json.dumps({"seed": SEED, "torch_version": torch.__version__})[:-1]
    rows = ",\n".join(f"  {json.dumps(case)}" for case in cases)
    (args.out_dir / "grad_golden.json").write_text(f'{header}, "cases": [\n{rows}\n]}}\n')
    print(f"wrote {len(cases)} cases to {args.out_dir}")


SPECIAL_PLACES = ("weight", "x", "dy")


def _poison(rng: np.random.Generator, a: Any) -> Any:
    """``a`` (a float64 copy) with one to three values replaced by inf, -inf or NaN."""
    out = np.array(a, dtype=np.float64)
    flat = out.reshape(-1)
    for i in rng.choice(flat.size, size=min(flat.size, int(rng.integers(1, 4))), replace=False):
        flat[i] = (np.inf, -np.inf, np.nan)[int(rng.integers(0, 3))]
    return out


def _finite_scale(*arrays: Any) -> float:
    """The tolerance scale from the finite values only (an inf would make it infinite)."""
    scale = 1.0
    for a in arrays:
        finite = a[np.isfinite(a)]
        scale *= float(np.abs(finite).max()) if finite.size else 1.0
    return scale * arrays[-1].size


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> Any:
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-50, 50, shape, endpoint=True).astype(dtype)


def _backward(
    function: Any,
    dtype: str,
    operands: list[Any],
    dy_seed: np.random.Generator,
    poison_dy: bool = False,
) -> tuple[Any, list[Any]]:
    torch_dtype = torch.float64 if dtype.startswith("int") else getattr(torch, dtype)
    tensors = [
        None if a is None else _tensor(a).to(torch_dtype).requires_grad_(True) for a in operands
    ]
    out = function(*tensors)
    dy = _values(dy_seed, dtype, tuple(out.shape))
    if poison_dy:
        dy = _poison(dy_seed, dy)
    out.backward(_tensor(dy).to(torch_dtype))
    grads = [None if t is None else t.grad.numpy() for t in tensors]
    if dtype.startswith("int"):
        grads = [None if g is None else g.astype(np.int64) for g in grads]
    return dy, grads


def _store(tensors: dict[str, Any], names: tuple[str, ...], values: list[Any]) -> None:
    for name, value in zip(names, values, strict=True):
        if value is not None:
            tensors[name] = value


def record_conv(
    rng: np.random.Generator, k: int, _op: str, nonfinite: str | None = None
) -> tuple[dict[str, Any], Any] | None:
    dtype = "float64" if nonfinite else ("float32", "float64", "int64")[k % 3]
    groups = (1, 1, 2, 3)[k % 4]
    c_i = groups * int(rng.integers(1, 3))
    c_o = groups * int(rng.integers(1, 3))
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    mode = MODES[(k // 3) % 4]
    flip = bool(k % 5 == 0)
    dilation = _pair(rng, 1, 2)
    if k % 7 == 0:
        padding: Any = "same"
        stride: Any = 1
    else:
        padding = _pair(rng, 0, 2)
        stride = _pair(rng, 1, 3)
    d = _as_pair(dilation)
    size = tuple(d[a] * (kernel[a] - 1) + 1 + int(rng.integers(0, 5)) for a in (0, 1))
    batched = bool(rng.integers(2))
    x_shape = (int(rng.integers(1, 3)), c_i, *size) if batched else (c_i, *size)
    x = _values(rng, dtype, x_shape)
    weight = _values(rng, dtype, (c_o, c_i // groups, *kernel))
    bias = _values(rng, dtype, (c_o,)) if rng.integers(2) else None
    if nonfinite == "x":
        x = _poison(rng, x)
    elif nonfinite == "weight":
        weight = _poison(rng, weight)
    options = {
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
        "padding_mode": mode,
        "flip": flip,
    }

    def call(xt: Any, wt: Any, bt: Any) -> Any:
        w = torch.flip(wt, (-2, -1)) if flip else wt
        layer = torch.nn.Conv2d(
            c_i, c_o, kernel, padding_mode=mode, bias=False, groups=groups,
            **_torch_args({"stride": stride, "padding": padding, "dilation": dilation}),
        )  # fmt: skip
        return layer._conv_forward(xt, w, bt)

    try:
        dy, grads = _backward(call, dtype, [x, weight, bias], rng, nonfinite == "dy")
    except RuntimeError:
        return None  # e.g. reflect padding wider than the input
    tensors = {"x": x, "weight": weight, "dy": dy}
    if bias is not None:
        tensors["bias"] = bias
    _store(tensors, ("gx", "gw", "gb"), grads)
    scale = float(np.abs(x).max() * np.abs(weight).max() * np.abs(dy).max() * dy.size)
    if nonfinite:
        special = {"nonfinite": nonfinite, "scale": _finite_scale(x, weight, dy)}
        return {"dtype": dtype, "options": options, **special}, tensors
    return {"dtype": dtype, "options": options, "scale": scale}, tensors


def record_transposed(
    rng: np.random.Generator, k: int, _op: str, nonfinite: str | None = None
) -> tuple[dict[str, Any], Any] | None:
    dtype = "float64" if nonfinite else ("float32", "float64", "int64")[k % 3]
    groups = (1, 1, 2, 3)[k % 4]
    c_i, c_og = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride, dilation = _pair(rng, 1, 3), _pair(rng, 1, 3)
    s, d = _as_pair(stride), _as_pair(dilation)
    size = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    op = [int(rng.integers(0, max(s[a], d[a]))) for a in (0, 1)]
    most = [((size[a] - 1) * s[a] + d[a] * (kernel[a] - 1) + op[a]) // 2 for a in (0, 1)]
    padding = [int(rng.integers(0, min(3, most[a]) + 1)) for a in (0, 1)]
    batched = bool(rng.integers(2))
    x_shape = (int(rng.integers(1, 3)), c_i, *size) if batched else (c_i, *size)
    x = _values(rng, dtype, x_shape)
    weight = _values(rng, dtype, (c_i, c_og, *kernel))
    bias = _values(rng, dtype, (c_og * groups,)) if rng.integers(2) else None
    if nonfinite == "x":
        x = _poison(rng, x)
    elif nonfinite == "weight":
        weight = _poison(rng, weight)
    options = {
        "stride": stride,
        "padding": padding,
        "output_padding": op,
        "groups": groups,
        "dilation": dilation,
    }

    def call(xt: Any, wt: Any, bt: Any) -> Any:
        return F.conv_transpose2d(xt, wt, bt, **_torch_args(options))

    dy, grads = _backward(call, dtype, [x, weight, bias], rng, nonfinite == "dy")
    tensors = {"x": x, "weight": weight, "dy": dy}
    if bias is not None:
        tensors["bias"] = bias
    _store(tensors, ("gx", "gw", "gb"), grads)
    scale = float(np.abs(x).max() * np.abs(weight).max() * np.abs(dy).max() * dy.size)
    if nonfinite:
        special = {"nonfinite": nonfinite, "scale": _finite_scale(x, weight, dy)}
        return {"dtype": dtype, "options": options, **special}, tensors
    return {"dtype": dtype, "options": options, "scale": scale}, tensors


def _pool_input(rng: np.random.Generator, dtype: str, size: tuple[int, ...]) -> Any:
    shape = (int(rng.integers(1, 3)), *size)
    x = rng.integers(-3, 4, shape).astype(dtype)  # small integers: ties
    if rng.integers(3) == 0:
        x.reshape(-1)[rng.integers(0, x.size)] = np.nan
    return x


def record_max(rng: np.random.Generator, k: int, _op: str) -> tuple[dict[str, Any], Any] | None:
    dtype = ("float32", "float64")[k % 2]
    options, size = _pool_geometry(rng, True)
    x = _pool_input(rng, dtype, size)
    dy, grads = _backward(lambda t: F.max_pool2d(t, **_torch_args(options)), dtype, [x], rng)
    return {"dtype": dtype, "options": options, "scale": 10.0}, {"x": x, "dy": dy, "gx": grads[0]}


def record_avg(rng: np.random.Generator, k: int, _op: str) -> tuple[dict[str, Any], Any] | None:
    dtype = ("float32", "float64")[k % 2]
    options, size = _pool_geometry(rng, False)
    options["count_include_pad"] = bool(rng.integers(2))
    options["divisor_override"] = (None, None, 3, 2)[k % 4]
    x = rng.standard_normal((int(rng.integers(1, 3)), *size)).astype(dtype)
    dy, grads = _backward(lambda t: F.avg_pool2d(t, **_torch_args(options)), dtype, [x], rng)
    return {"dtype": dtype, "options": options, "scale": 10.0}, {"x": x, "dy": dy, "gx": grads[0]}


def record_adaptive(rng: np.random.Generator, k: int, op: str) -> tuple[dict[str, Any], Any] | None:
    dtype = ("float32", "float64")[k % 2]
    size = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
    output_size = [int(rng.integers(1, 9)), int(rng.integers(1, 9))]
    x = (
        _pool_input(rng, dtype, size)
        if op.endswith("max_pool2d")
        else _values(rng, dtype, (2, *size))
    )
    function = getattr(F, op)
    dy, grads = _backward(lambda t: function(t, tuple(output_size)), dtype, [x], rng)
    options = {"output_size": output_size}
    return {"dtype": dtype, "options": options, "scale": 10.0}, {"x": x, "dy": dy, "gx": grads[0]}


if __name__ == "__main__":
    main()
