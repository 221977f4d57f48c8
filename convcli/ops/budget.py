"""The memory a run may use: ``--max-memory`` sizes, the default budget, the estimate.

Pure Python and shapes: nothing here allocates a tensor. A run is sized from the
tensors' shapes and dtypes (``.npy`` headers give them before any data is read) with
``convcli.ops.algorithms.estimate_memory``, which knows the workspace its tiles allocate, and
refused when the total is over the budget, so a huge request fails in a millisecond
with the estimate instead of exhausting the machine.

The default budget is half of the memory the kernel reports as available
(``MemAvailable`` in ``/proc/meminfo``; else free physical pages), or 2 GiB when
neither is known.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from convcli.errors import BudgetError, OptionError, Param, ShapeError
from convcli.i18n import N_, _
from convcli.ops.algorithms import estimate_memory
from convcli.shapes.geometry import IntOrPair, PaddingArg, resolve_geometry
from convcli.shapes.layer import check_conv_shapes, lift_to_conv2d
from convcli.shapes.options import ConvOptions
from convcli.shapes.parsing import shorten

if TYPE_CHECKING:  # annotations only: run without --transposed or --pool loads neither
    from convcli.shapes.pooling import PoolOptions
    from convcli.shapes.transposed import TransposedOptions

__all__ = [
    "DEFAULT_SHARE",
    "FALLBACK_BUDGET",
    "JSON_BYTES_PER_VALUE",
    "JSON_PARSE_EXPANSION",
    "RunEstimate",
    "available_memory",
    "check_budget",
    "check_inputs_budget",
    "default_budget",
    "estimate_compose",
    "estimate_explain",
    "estimate_explain_pool",
    "estimate_explain_transposed",
    "estimate_grad",
    "estimate_learn",
    "estimate_net",
    "estimate_pool_grad",
    "estimate_pool_run",
    "estimate_run",
    "estimate_transposed_run",
    "format_bytes",
    "parse_size",
]

DEFAULT_SHARE = 0.5
FALLBACK_BUDGET = 2 * 1024**3
# A value printed as JSON: a Python float in a list (~32 bytes), its text (~20) and the
# text's encoded copy as it is written (~20): tracemalloc measures 72 per float value of a
# million-value --json payload; a complex value is a dict of two floats (359 measured).
JSON_BYTES_PER_VALUE = 80
JSON_BYTES_PER_COMPLEX = 400
# The report: rich's objects and the summary's statistics (blocks of 16 MiB at most).
REPORT_BYTES = 4 * 1024**2
STATS_BLOCK_BYTES = 16 * 1024**2
# Arrays of the output's size that comparing two results holds at its peak (float64).
COMPARE_WIDE_ARRAYS = 6
# A value printed in a rich table (--full): its text, its Text and Segment objects.
REPORT_BYTES_PER_VALUE = 1024
# Parsing JSON text holds Python objects for every number and list: the peak, measured
# with tracemalloc over parse_json_tensor, is 6-17x the text for lists of numbers and up
# to 36x for rows of single values ("[[0]],[[0]]..."). Text size x 40 covers them all.
JSON_PARSE_EXPANSION = 40
# `net`, per layer (every layer a spec stands for, repeats expanded, each layer inside a
# block counted): tracemalloc's peak over a whole `convcli net` call (CliRunner, after a
# warm-up call; tests/test_budget_layers.py::test_item61_net_*) over specs of 400-4,000
# layers measured 1.3-1.8 KB per layer with --emit torch (parsing, the walk's rows and
# the script: 2.4 KB at 400 layers, where the fixed part weighs), 2.8-5.2 KB with --json,
# 14-15.6 KB for the rich table, 22.3 KB for a join-heavy table folded by --depth, and
# --training 1.3-1.7 KB more. A preset of 66 layers peaked at 0.7-1.2 MB in all: NET_BASE.
# (tests/tracing.py's peak_allocation, which leaves out what the call still holds, gives
# 0.2-0.55 of these estimates: `pytest -s -k item61_net tests/test_budget_layers.py`.)
NET_BASE_BYTES = 1024**2
NET_LAYER_BYTES = 2 * 1024  # the parsed spec and the walk's row of one layer
NET_TABLE_BYTES = 24 * 1024  # one row of the rich table (its texts, cells and segments)
NET_JSON_BYTES = 4 * 1024  # one layer's JSON object, its text and the encoded copy
NET_SCRIPT_BYTES = 1024  # one layer's lines of the emitted PyTorch script
NET_TRAINING_BYTES = 4 * 1024  # one layer's backward cost and kept bytes, shown
_SIZE = re.compile(r"(\d{1,20}(?:\.\d{1,20})?)\s*([kmgt]?)(i?)(b?)", re.IGNORECASE | re.ASCII)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_EXPECTED = N_("expected a size like 512M, 2G, 1.5GiB or a number of bytes")
Shape = tuple[int, ...]


def parse_size(text: str) -> int:
    """Bytes from ``512M``, ``2G``, ``1.5GiB``, ``800MB`` or ``1000000``.

    ``K``, ``M``, ``G``, ``T`` and ``KiB``... are powers of 1024; ``kB``, ``MB``... are
    powers of 1000.

    Examples
    --------
    >>> parse_size("512M"), parse_size("1.5GiB"), parse_size("2GB"), parse_size("4096")
    (536870912, 1610612736, 2000000000, 4096)
    """
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise OptionError(
            _("{EXPECTED}, got {shorten_text}").format(
                EXPECTED=_(_EXPECTED), shorten_text=shorten(text)
            )
        )
    number, prefix, binary, unit_b = match.groups()
    if (binary and not prefix) or (not unit_b and binary):
        raise OptionError(
            _("{EXPECTED}, got {shorten_text}").format(
                EXPECTED=_(_EXPECTED), shorten_text=shorten(text)
            )
        )
    base = 1000 if (unit_b and not binary and prefix) else 1024
    size = int(float(number) * base ** _POWERS[prefix.lower()])
    if size < 1:
        raise OptionError(
            _("must be at least 1 byte, got {shorten_text}").format(shorten_text=shorten(text))
        )
    return size


def available_memory(meminfo: str = "/proc/meminfo") -> int | None:
    """The memory the operating system can give a new process, in bytes, if known."""
    try:
        with open(meminfo, encoding="ascii") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def default_budget() -> int:
    """``DEFAULT_SHARE`` of the available memory, or ``FALLBACK_BUDGET`` when unknown."""
    available = available_memory()
    if not available or available <= 0:
        return FALLBACK_BUDGET
    return max(1, int(available * DEFAULT_SHARE))


def format_bytes(size: int) -> str:
    """A byte count for people: ``17.2 GiB``, ``512.0 MiB``, ``36 B``.

    Examples
    --------
    >>> format_bytes(36), format_bytes(3 * 2**29), format_bytes(17_200_000_000)
    ('36 B', '1.5 GiB', '16.0 GiB')
    >>> format_bytes(2**20 - 1), format_bytes(2**70)
    ('1.0 MiB', '1,048,576.0 PiB')
    """
    if size < 1024:
        return f"{size} B"
    # Integers only (a float overflows past 1e308 bytes), rounded half up, as every size
    # and count convcli shows (docs: numbers).
    units = ("KiB", "MiB", "GiB", "TiB", "PiB")
    tenths = 0
    for power in range(1, len(units) + 1):
        tenths = (size * 20 + 1024**power) // (2 * 1024**power)  # size*10 / 1024**power, half up
        if tenths < 10240 or power == len(units):
            break
    whole, tenth = divmod(tenths, 10)
    return f"{whole:,}.{tenth} {units[power - 1]}"


@dataclass(frozen=True)
class RunEstimate:
    """The bytes one run holds at its peak, by part (input, kernel, output, ...), and the
    shape of the result it makes (when it makes one: what a picture of it would draw)."""

    parts: tuple[tuple[str, int], ...]
    output_shape: Shape = ()

    def plus(self, parts: tuple[tuple[str, int], ...]) -> RunEstimate:
        """This estimate and more parts (a picture of the result, say).

        Examples
        --------
        >>> RunEstimate((("output", 4),), (2, 2)).plus((("plot", 6),)).total
        10
        """
        return RunEstimate((*self.parts, *parts), self.output_shape)

    @property
    def total(self) -> int:
        return sum(size for _, size in self.parts)

    def describe(self) -> str:
        shown = _(", ").join(f"{_(name)} {format_bytes(size)}" for name, size in self.parts if size)
        return _("about {total} ({parts})").format(total=format_bytes(self.total), parts=shown)


def estimate_run(
    input_shape: Shape,
    input_dtype: np.dtype[Any],
    kernel_shape: Shape,
    kernel_dtype: np.dtype[Any],
    bias_shape: Shape | None = None,
    bias_dtype: np.dtype[Any] | None = None,
    *,
    stride: IntOrPair = 1,
    padding: PaddingArg = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    results: int = 1,
    as_json: bool = False,
    unfolded: bool = False,
    padding_mode: str = "zeros",
) -> RunEstimate:
    """What ``convcli run`` (or a check computing ``results`` outputs) will hold at once.

    ``unfolded`` adds the whole im2col matrix that ``convcli verify`` builds; a
    ``padding_mode`` other than zeros adds the padded copy of the input. The
    kernel's rank is read as ``convcli run --mode auto`` reads it. Raises
    ``ValueError`` when the shapes do not form a convolution (the run itself then says
    why, with its own words).

    Examples
    --------
    >>> e = estimate_run((1, 1024, 1024), np.dtype("f4"), (65536, 1, 3, 3), np.dtype("f4"))
    >>> dict(e.parts)["output"] // 2**30
    255
    """
    x_shape, w_shape = lift_to_conv2d(input_shape, kernel_shape)
    # The checks conv2d makes first, so a refusal from shapes alone says what the run would.
    if bias_shape is not None and len(bias_shape) != 1:
        raise ShapeError(
            _("bias must be 1-D, got {len_bias_shape}-D with shape {tuple_bias_shape}").format(
                len_bias_shape=len(bias_shape), tuple_bias_shape=tuple(bias_shape)
            )
        )
    check_conv_shapes(x_shape, w_shape, bias_shape, groups)
    memory = estimate_memory(
        x_shape,
        w_shape,
        input_dtype=input_dtype,
        weight_dtype=kernel_dtype,
        bias_dtype=bias_dtype,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )
    # Python ints: shapes from --input-shape can have 18-digit sizes, beyond int64.
    output_values = math.prod(memory.output_shape)
    out_size = memory.output_dtype.itemsize
    complex_out = memory.output_dtype.kind == "c"
    n, c_i = (x_shape[0], x_shape[1]) if len(x_shape) == 4 else (1, x_shape[0])
    taps = w_shape[2] * w_shape[3]
    unfolded_values = c_i * taps * n * math.prod(memory.output_shape[-2:]) if unfolded else 0
    # --json prints every result (verify: also the unfolded input and the weight matrix).
    json_values = (
        output_values * results + unfolded_values + (math.prod(w_shape) if unfolded else 0)
    )
    per_value = _json_bytes_per_value(complex_out, results)
    parts = [
        *_tensor_parts(
            input_shape, input_dtype, kernel_shape, kernel_dtype, bias_shape, bias_dtype
        ),
        (N_("output"), output_values * out_size * results),
        (N_("workspace"), memory.workspace_bytes),
        (N_("JSON text"), json_values * per_value if as_json else 0),
        (N_("report"), _report_bytes(output_values * out_size)),
    ]
    if results > 1:
        # Comparing two results: both widened to float64/complex128, their differences and
        # masks (compare()), and the copies each way of computing makes on its way.
        wide = 16 if complex_out else 8
        parts.append((N_("comparison"), output_values * (COMPARE_WIDE_ARRAYS * wide + 8)))
        parts.append(
            (N_("working copies"), _bytes(input_shape, input_dtype) + 2 * output_values * out_size)
        )
    if padding_mode != "zeros":
        geometry = resolve_geometry(
            (x_shape[-2], x_shape[-1]),
            (w_shape[-2], w_shape[-1]),
            stride=stride,
            padding=padding,
            dilation=dilation,
        )
        padded = n * c_i * math.prod(geometry.padded_size) * input_dtype.itemsize
        parts.append((N_("padded input"), padded))
    if unfolded:
        parts.append((N_("unfolded input"), unfolded_values * out_size))
    return RunEstimate(tuple(parts), tuple(memory.output_shape))


def estimate_explain(
    input_shape: Shape,
    input_dtype: np.dtype[Any],
    kernel_shape: Shape,
    kernel_dtype: np.dtype[Any],
    bias_shape: Shape | None = None,
    bias_dtype: np.dtype[Any] | None = None,
    *,
    groups: int = 1,
    as_json: bool = False,
    full: bool = False,
) -> RunEstimate:
    """What ``convcli explain`` holds: the tensors, and per input channel of the group
    the window, the kernel slice and the products (each ``k_h x k_w``), printed as JSON
    text or (with ``--full``) as table cells.

    Examples
    --------
    >>> e = estimate_explain((1, 4000, 4000), np.dtype("f8"), (1, 4000, 4000), np.dtype("f8"))
    >>> format_bytes(e.total)
    '614.4 MiB'
    """
    x_shape, w_shape = lift_to_conv2d(input_shape, kernel_shape)
    if bias_shape is not None and len(bias_shape) != 1:
        raise ShapeError(
            _("bias must be 1-D, got {len_bias_shape}-D with shape {tuple_bias_shape}").format(
                len_bias_shape=len(bias_shape), tuple_bias_shape=tuple(bias_shape)
            )
        )
    check_conv_shapes(x_shape, w_shape, bias_shape, groups)
    operands = [np.empty(0, input_dtype), np.empty(0, kernel_dtype)]
    if bias_dtype is not None:
        operands.append(np.empty(0, bias_dtype))
    acc = np.result_type(*operands, np.int64 if input_dtype.kind in "biu" else input_dtype)
    values = 3 * w_shape[1] * w_shape[2] * w_shape[3]
    shown = JSON_BYTES_PER_VALUE if as_json else REPORT_BYTES_PER_VALUE if full else 0
    parts = (
        *_tensor_parts(
            input_shape, input_dtype, kernel_shape, kernel_dtype, bias_shape, bias_dtype
        ),
        (N_("windows and products"), values * max(acc.itemsize, 8)),
        (N_("JSON text") if as_json else N_("report"), REPORT_BYTES + values * shown),
    )
    return RunEstimate(parts)


def check_budget(estimate: RunEstimate, budget: int) -> None:
    """Raise ``BudgetError`` naming the estimate when it is over ``budget`` bytes.

    The error's fields: ``needed`` and ``budget`` (bytes), ``max_memory`` (the parameter).

    Examples
    --------
    >>> check_budget(RunEstimate((("output", 3 * 2**20),)), 2**20)
    Traceback (most recent call last):
    ...
    convcli.errors.BudgetError: this run needs about 3.0 MiB (output 3.0 MiB), over the \
max_memory budget of 1.0 MiB: make the run smaller or raise max_memory
    """
    if estimate.total > budget:
        raise BudgetError(
            _(
                "this run needs {estimate_describe}, over the {max_memory} budget of "
                "{format_bytes_budget}: make the run smaller or raise {max_memory}"
            ),
            estimate_describe=estimate.describe(),
            format_bytes_budget=format_bytes(budget),
            max_memory=Param("max_memory"),
            needed=estimate.total,
            budget=budget,
        )


def check_inputs_budget(parts: list[tuple[str, int]], budget: int) -> None:
    """Refuse inputs whose data (from their headers) or JSON parsing (text size x
    ``JSON_PARSE_EXPANSION``) alone would go over ``budget``, before any is read.

    ``parts`` names each input and the bytes it will take; the message lists them.

    Examples
    --------
    >>> check_inputs_budget([("input x.npy", 2**30), ("kernel k.json", 40 * 1000)], 2**29)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convcli.errors.BudgetError: reading the inputs needs about 1.0 GiB (input x.npy 1.0 GiB, ...
    """
    estimate = RunEstimate(tuple(parts))
    if estimate.total > budget:
        shown = ", ".join(f"{name} {format_bytes(size)}" for name, size in parts if size)
        raise BudgetError(
            _(
                "reading the inputs needs about {format_bytes_estimate_total} ({shown}), over "
                "the {max_memory} budget of {format_bytes_budget}: use smaller inputs (or .npy, "
                "which needs no parsing) or raise {max_memory}"
            ),
            format_bytes_estimate_total=format_bytes(estimate.total),
            shown=shown,
            format_bytes_budget=format_bytes(budget),
            max_memory=Param("max_memory"),
            needed=estimate.total,
            budget=budget,
        )


def _bytes(shape: Shape, dtype: np.dtype[Any]) -> int:
    return math.prod(shape) * dtype.itemsize


def _tensor_parts(
    input_shape: Shape,
    input_dtype: np.dtype[Any],
    kernel_shape: Shape,
    kernel_dtype: np.dtype[Any],
    bias_shape: Shape | None,
    bias_dtype: np.dtype[Any] | None,
) -> tuple[tuple[str, int], ...]:
    """The loaded tensors' parts of an estimate: input, kernel and (if any) bias."""
    bias = 0 if bias_shape is None or bias_dtype is None else _bytes(bias_shape, bias_dtype)
    return (
        (N_("input"), _bytes(input_shape, input_dtype)),
        (N_("kernel"), _bytes(kernel_shape, kernel_dtype)),
        (N_("bias"), bias),
    )


def _json_bytes_per_value(complex_out: bool, results: int = 1) -> int:
    """JSON text per printed value; a check's payload (``results > 1``) holds several
    arrays as lists at once, doubling it."""
    per_value = JSON_BYTES_PER_COMPLEX if complex_out else JSON_BYTES_PER_VALUE
    return per_value * 2 if results > 1 else per_value


def _report_bytes(output_bytes: int) -> int:
    """The summary's statistics, worked a block at a time, and the report's own objects."""
    return REPORT_BYTES + 2 * min(output_bytes, STATS_BLOCK_BYTES)


def estimate_transposed_run(
    input_shape: Shape,
    input_dtype: np.dtype[Any],
    kernel_shape: Shape,
    kernel_dtype: np.dtype[Any],
    bias_shape: Shape | None,
    bias_dtype: np.dtype[Any] | None,
    options: TransposedOptions,
    *,
    results: int = 1,
    as_json: bool = False,
    direct: bool = False,
) -> RunEstimate:
    """What ``convcli run --transposed`` (or ``verify --transposed``, ``results=2`` and
    ``direct``) holds at once, from shapes and dtypes alone.

    The run: the tensors, the output, the workspace (the column block ``cols = W^T X``,
    the uncropped output, the cast operands), the report and the ``--json`` text. With
    ``direct``, verify's own: the zero-inserted, padded input and the ``conv2d`` over it
    (its output, a cast copy and its workspace), the comparison, and the adjoint check's
    float64 tensors and computations. Shapes that do not form the layer raise the
    computation's own refusal.

    Examples
    --------
    >>> from convcli.shapes.transposed import TransposedOptions
    >>> e = estimate_transposed_run((1, 256, 16, 16), np.dtype("f4"), (256, 128, 4, 4),
    ...                             np.dtype("f4"), None, None, TransposedOptions(2, 1))
    >>> dict(e.parts)["output"] // 1024
    512
    """
    from convcli.ops.transposed import check_transposed_kernel, plan_transposed

    check_transposed_kernel(kernel_shape)
    plan = plan_transposed(
        input_shape,
        kernel_shape,
        input_dtype=input_dtype,
        weight_dtype=kernel_dtype,
        bias_shape=bias_shape,
        bias_dtype=bias_dtype,
        stride=options.stride,
        padding=options.padding,
        output_padding=options.output_padding,
        groups=options.groups,
        dilation=options.dilation,
        output_size=options.output_size,
    )
    output_values = math.prod(plan.output_shape)
    out_item = plan.accumulation.out.itemsize
    complex_out = plan.accumulation.out.kind == "c"
    per_value = _json_bytes_per_value(complex_out, results)
    parts = [
        *_tensor_parts(
            input_shape, input_dtype, kernel_shape, kernel_dtype, bias_shape, bias_dtype
        ),
        (N_("output"), output_values * out_item * results),
        (N_("workspace"), plan.workspace_bytes),
        (N_("JSON text"), output_values * per_value * results if as_json else 0),
        (N_("report"), _report_bytes(output_values * out_item)),
    ]
    if direct:
        parts.extend(_direct_check_parts(input_shape, kernel_shape, bias_dtype, plan, options))
        wide = 16 if complex_out else 8
        parts.append((N_("comparison"), output_values * (COMPARE_WIDE_ARRAYS * wide + 8)))
    return RunEstimate(tuple(parts), tuple(plan.output_shape))


def _direct_check_parts(
    input_shape: Shape,
    kernel_shape: Shape,
    bias_dtype: np.dtype[Any] | None,
    plan: Any,
    options: TransposedOptions,
) -> list[tuple[str, int]]:
    """``verify --transposed``'s second computation and its adjoint check, by part."""
    from convcli.ops.transposed import plan_transposed
    from convcli.ops.verify_transposed import check_inserted_size

    geom = plan.geometry
    check_inserted_size(input_shape, geom.stride)
    n_c = math.prod(input_shape[:-2])
    n = input_shape[0] if len(input_shape) == 4 else 1
    top, bottom, left, right = (max(0, side) for side in geom.direct_padding)
    inserted_hw = (
        (geom.in_size[0] - 1) * geom.stride[0] + 1 + top + bottom,
        (geom.in_size[1] - 1) * geom.stride[1] + 1 + left + right,
    )
    groups = int(options.groups)
    acc = plan.accumulation.acc
    c_i, c_og, k_h, k_w = kernel_shape
    direct_weight = (c_og * groups, c_i // groups, k_h, k_w)
    conv = estimate_memory(
        (n, input_shape[-3], *inserted_hw),
        direct_weight,
        input_dtype=acc,
        weight_dtype=acc,
        bias_dtype=bias_dtype,
        dilation=geom.dilation,
        groups=groups,
    )
    output_values = math.prod(plan.output_shape)
    input_values = math.prod(input_shape)
    # The adjoint identity, in float64 (complex128 for a complex kernel): random x and z,
    # the widened weight, conv2d(z) and conv2d(|z|) (each about the input's size) with
    # their workspace, conv_transpose2d(x) with its workspace, and the products summed.
    wide = np.dtype(np.complex128 if plan.accumulation.out.kind == "c" else np.float64)
    forward = estimate_memory(
        (n, c_og * groups, *geom.out_size),
        kernel_shape,
        input_dtype=wide,
        stride=geom.stride,
        padding=geom.padding,
        dilation=geom.dilation,
        groups=groups,
    )
    backward = plan_transposed(
        input_shape,
        kernel_shape,
        input_dtype=wide,
        stride=geom.stride,
        padding=geom.padding,
        output_padding=geom.output_padding,
        groups=groups,
        dilation=geom.dilation,
    )
    forward_values = math.prod(forward.output_shape)
    return [
        (N_("input cast"), input_values * acc.itemsize),
        ("zero-inserted input", n_c * math.prod(inserted_hw) * acc.itemsize),
        (N_("direct weight"), 2 * math.prod(kernel_shape) * acc.itemsize),
        ("direct conv2d", 2 * output_values * acc.itemsize + conv.workspace_bytes),
        (
            "adjoint check",
            (2 * input_values + 3 * output_values + 3 * forward_values) * wide.itemsize
            + math.prod(kernel_shape) * wide.itemsize * 2
            + max(forward.workspace_bytes, backward.workspace_bytes),
        ),
    ]


def estimate_pool_run(
    input_shape: Shape,
    input_dtype: np.dtype[Any],
    options: PoolOptions,
    *,
    as_json: bool = False,
    indices: bool = False,
) -> RunEstimate:
    """What ``convcli pool`` holds at once, from the input's shape and dtype alone: the
    input, the output, the workspace, the ``--json`` text and the report (``indices``:
    ``--indices``' int64 indices, one candidate per tap, and their JSON text).

    Examples
    --------
    >>> from convcli.shapes.pooling import PoolOptions
    >>> e = estimate_pool_run((1, 64, 112, 112), np.dtype("f4"),
    ...                       PoolOptions("max", kernel_size=3, stride=2, padding=1))
    >>> dict(e.parts)["output"] // 1024
    784
    """
    from convcli.ops.pooling import plan_pool

    plan = plan_pool(
        input_shape,
        input_dtype,
        options.kind,
        kernel_size=options.kernel_size,
        stride=options.stride,
        padding=options.padding,
        dilation=options.dilation,
        ceil_mode=options.ceil_mode,
        output_size=options.output_size,
    )
    output_values = math.prod(plan.output_shape)
    out_item = plan.output_dtype.itemsize
    per_value = _json_bytes_per_value(plan.output_dtype.kind == "c")
    parts = [
        (N_("input"), _bytes(input_shape, input_dtype)),
        (N_("output"), output_values * out_item),
        (N_("workspace"), plan.workspace_bytes),
        (N_("JSON text"), output_values * per_value if as_json else 0),
        (N_("report"), _report_bytes(output_values * out_item)),
    ]
    if indices:
        # Per output: the tap taken and its row/column steps (int32 each), the int64 indices
        # and one int64 temporary, two boolean masks; then the indices' JSON text.
        parts.append((N_("indices"), output_values * (3 * 4 + 2 * 8 + 2)))
        parts.append(
            (N_("indices JSON text"), output_values * JSON_BYTES_PER_VALUE if as_json else 0)
        )
    return RunEstimate(tuple(parts), tuple(plan.output_shape))


def estimate_explain_transposed(
    input_shape: Shape,
    input_dtype: np.dtype[Any],
    kernel_shape: Shape,
    kernel_dtype: np.dtype[Any],
    bias_shape: Shape | None,
    bias_dtype: np.dtype[Any] | None,
    options: TransposedOptions,
) -> RunEstimate:
    """What ``convcli explain --transposed`` holds: the whole transposed convolution (the
    value it explains is read from its output), and per term of the sum (each input
    channel of the group times each tap) its stamp, the direct view's windows and their
    text (a table cell or JSON: ``REPORT_BYTES_PER_VALUE`` each).

    Examples
    --------
    >>> from convcli.shapes.transposed import TransposedOptions
    >>> e = estimate_explain_transposed((1, 4, 8, 8), np.dtype("f4"), (4, 2, 3, 3),
    ...                                 np.dtype("f4"), None, None, TransposedOptions(2))
    >>> dict(e.parts)["terms"] // 1024
    36
    """
    run = estimate_transposed_run(
        input_shape, input_dtype, kernel_shape, kernel_dtype, bias_shape, bias_dtype, options
    )
    terms = kernel_shape[0] // int(options.groups) * kernel_shape[2] * kernel_shape[3]
    return RunEstimate((*run.parts, (N_("terms"), terms * REPORT_BYTES_PER_VALUE)))


def estimate_explain_pool(
    input_shape: Shape, input_dtype: np.dtype[Any], options: PoolOptions
) -> RunEstimate:
    """What ``convcli pool --at`` holds: the whole pooling (the value it explains is read
    from its output), and the window's cells and their text.

    Examples
    --------
    >>> from convcli.shapes.pooling import PoolOptions
    >>> e = estimate_explain_pool((1, 64, 64), np.dtype("f4"), PoolOptions("max", 3))
    >>> dict(e.parts)["window"] // 1024
    9
    """
    from convcli.shapes.geometry import as_pair

    run = estimate_pool_run(input_shape, input_dtype, options)
    h, w = input_shape[-2:]
    if options.kernel_size is not None:
        k_h, k_w = as_pair(options.kernel_size, "kernel_size", minimum=1)
    else:  # an adaptive window: at most ceil(n / m) + 1 cells per axis (None: m = n)
        size = options.output_size
        m_h, m_w = size if isinstance(size, tuple) else (size, size)
        k_h = min(h, -(-h // max(1, m_h or h)) + 1)
        k_w = min(w, -(-w // max(1, m_w or w)) + 1)
    return RunEstimate((*run.parts, (N_("window"), k_h * k_w * REPORT_BYTES_PER_VALUE)))


def estimate_compose(
    k1_shape: Shape,
    k2_shape: Shape,
    *,
    strides: tuple[tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1)),
    dilations: tuple[tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1)),
    input_shape: Shape | None = None,
    paddings: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0)),
) -> RunEstimate:
    """The bytes ``compose`` holds: both kernels and the composed one in float64, and with
    a check input the input, layer 1's output, both results and their comparison.

    Sizes are bounded from above (the padded input's size stands for each output's).

    Examples
    --------
    >>> estimate_compose((3, 2, 3, 3), (4, 3, 2, 2)).total  # (54 + 48 + 2 * 128) * 8
    2864
    """
    (s1, _s2), (d1, d2) = strides, dilations
    k1h, k1w = k1_shape[-2:]
    k2h, k2w = k2_shape[-2:]
    size = (
        (k1h - 1) * d1[0] + (k2h - 1) * s1[0] * d2[0] + 1,
        (k1w - 1) * d1[1] + (k2w - 1) * s1[1] * d2[1] + 1,
    )
    composed = k2_shape[0] * k1_shape[1] * size[0] * size[1]
    parts: list[tuple[str, int]] = [
        (N_("kernel"), 8 * (math.prod(k1_shape) + math.prod(k2_shape))),
        (N_("composed kernel"), 2 * 8 * composed),  # the kernel and one block added into it
    ]
    if input_shape is not None:
        (p1, p2) = paddings
        n = math.prod(input_shape[:-3]) if len(input_shape) > 3 else 1
        h = input_shape[-2] + 2 * (p1[0] + s1[0] * p2[0])
        w = input_shape[-1] + 2 * (p1[1] + s1[1] * p2[1])
        parts.append((N_("input"), 8 * math.prod(input_shape)))
        parts.append(
            (N_("output"), 8 * n * (k1_shape[0] + COMPARE_WIDE_ARRAYS * k2_shape[0]) * h * w)
        )
        parts.append((N_("windows and products"), 64 * 2**20))
    return RunEstimate(tuple(parts))


def estimate_net(
    layer_count: int, *, as_json: bool = False, emit: bool = False, training: bool = False
) -> RunEstimate:
    """The bytes ``net`` holds for a network of ``layer_count`` layers (every layer a spec
    stands for: repeats expanded, the layers inside blocks and joins counted), known
    from the parsed spec before the network is walked.

    One of its outputs: the table (the default, ``--at`` and ``--depth`` included), the
    JSON text (``as_json``) or the PyTorch script (``emit``); ``training`` adds training's
    cost per layer. The constants are measured with tracemalloc (see ``NET_LAYER_BYTES``).

    Examples
    --------
    >>> estimate_net(10, emit=True).total == NET_BASE_BYTES + 10 * (2048 + 1024)
    True
    >>> estimate_net(100, as_json=True).total < estimate_net(100).total
    True
    """
    if emit:
        shown = (N_("script"), layer_count * NET_SCRIPT_BYTES)
    elif as_json:
        shown = (N_("JSON text"), layer_count * NET_JSON_BYTES)
    else:
        shown = (N_("report"), layer_count * NET_TABLE_BYTES)
    parts = [(N_("layers"), NET_BASE_BYTES + layer_count * NET_LAYER_BYTES), shown]
    if training:
        parts.append((N_("training"), layer_count * NET_TRAINING_BYTES))
    return RunEstimate(tuple(parts))


def estimate_learn(input_shape: Shape, kernel_shape: Shape, epochs: int) -> RunEstimate:
    """The bytes ``learn`` holds: input, target, prediction, residual and gradient windows
    in float64, the kernel, and one loss per epoch.

    Examples
    --------
    >>> estimate_learn((6, 8), (1, 2), 10).total  # 5 * 48 * 8 + 2 * 2 * 8 + 10 * 8
    2032
    """
    values = math.prod(input_shape)
    return RunEstimate(
        (
            (N_("input"), 8 * 5 * values),
            (N_("kernel"), 8 * 2 * math.prod(kernel_shape)),
            (N_("report"), 8 * epochs),
        )
    )


def estimate_grad(
    input_shape: Shape,
    input_dtype: np.dtype[Any],
    kernel_shape: Shape,
    kernel_dtype: np.dtype[Any],
    bias_shape: Shape | None,
    bias_dtype: np.dtype[Any] | None,
    options: ConvOptions | TransposedOptions,
    *,
    as_json: bool = False,
) -> RunEstimate:
    """What ``convcli grad`` (反向传播) holds at once, from shapes and dtypes alone.

    The tensors, ``dY`` (the output's size), the three gradients, and the workspace of
    ``convcli.ops.grad``: the padded input, the padded input's gradient before it is
    cropped (or folded), ``dW``'s (im2col tiles, or the padded width's phases, ``dY``
    on their grid and a tile of shifted copies: the larger), ``dX``'s (the transposed
    convolution's own workspace or col2im's: the larger), all in the compute dtype
    (8 bytes for integers). Options of a ``TransposedOptions`` size
    ``run --transposed``'s backward pass, whose roles swap. Shapes that do not form the
    layer raise the computation's own refusal.

    Examples
    --------
    >>> e = estimate_grad((1, 64, 56, 56), np.dtype("f4"), (64, 64, 3, 3), np.dtype("f4"),
    ...                   None, None, ConvOptions(padding=1))
    >>> dict(e.parts)["gradients"] // 1024
    928
    """
    from convcli.ops.algorithms import plan_dtypes
    from convcli.ops.grad import GRAD_TILE_BYTES
    from convcli.ops.grad_weight import input_grad_workspace, plan_weight_grad
    from convcli.ops.transposed import check_transposed_kernel, plan_transposed
    from convcli.shapes.transposed import TransposedOptions

    transposed = isinstance(options, TransposedOptions)
    acc, compute = plan_dtypes(input_dtype, kernel_dtype, bias_dtype)
    item, out_item = compute.itemsize, acc.out.itemsize
    if transposed:
        assert isinstance(options, TransposedOptions)
        check_transposed_kernel(kernel_shape)
        plan = plan_transposed(
            input_shape, kernel_shape, input_dtype=input_dtype, weight_dtype=kernel_dtype,
            bias_shape=bias_shape, bias_dtype=bias_dtype, stride=options.stride,
            padding=options.padding, output_padding=options.output_padding,
            groups=options.groups, dilation=options.dilation, output_size=options.output_size,
        )  # fmt: skip
        output_shape = plan.output_shape
        n = input_shape[0] if len(input_shape) == 4 else 1
        eff = [plan.geometry.dilation[a] * (kernel_shape[2 + a] - 1) + 1 for a in (0, 1)]
        need = [
            max(
                (input_shape[-2 + a] - 1) * plan.geometry.stride[a] + eff[a],
                plan.geometry.out_size[a] + 2 * plan.geometry.padding[a],
            )
            for a in (0, 1)
        ]
        padded = n * output_shape[-3] * need[0] * need[1] * item
        memory = estimate_memory(
            (n, output_shape[-3], need[0], need[1]), (kernel_shape[0], *kernel_shape[1:]),
            input_dtype=compute, weight_dtype=compute,
            stride=options.stride, dilation=options.dilation, groups=options.groups,
        )  # fmt: skip
        tap = math.prod(input_shape) * item
        # dW: dY (padded) plays conv2d's input, the input its dY, on the padded width
        x_size = (input_shape[-2], input_shape[-1])
        flat = plan_weight_grad(
            n, output_shape[-3], input_shape[-3], kernel_shape, x_size, plan.geometry.stride,
            plan.geometry.dilation, options.groups, item, GRAD_TILE_BYTES,
        )  # fmt: skip
        dw = max(2 * tap, flat.workspace_bytes)
        workspace = padded + memory.workspace_bytes + dw + _bytes(output_shape, compute)
    else:
        assert isinstance(options, ConvOptions)
        x_shape, w_shape = lift_to_conv2d(input_shape, kernel_shape)
        check_conv_shapes(x_shape, w_shape, bias_shape, options.groups)
        geometry = resolve_geometry(
            (x_shape[-2], x_shape[-1]),
            (w_shape[-2], w_shape[-1]),
            stride=options.stride,
            padding=options.padding,
            dilation=options.dilation,
        )
        n, c_i = (x_shape[0], x_shape[1]) if len(x_shape) == 4 else (1, x_shape[0])
        output_shape = (n, w_shape[0], *geometry.out_size)
        padded = n * c_i * math.prod(geometry.padded_size) * item
        dy_cm = output_shape[-3:]
        plan = plan_transposed(
            (n, *dy_cm), w_shape, input_dtype=compute, weight_dtype=compute,
            stride=geometry.stride, dilation=geometry.dilation, groups=options.groups,
        )  # fmt: skip
        tap = n * c_i * math.prod(geometry.out_size) * item
        taps = w_shape[2] * w_shape[3]
        # a tile of taps' copies of the input (im2col for dW, GRAD_TILE_BYTES at most),
        # or the phases, dY on their grid and a tile of shifted copies (padded width)
        cols = tap if w_shape[1] == 1 else min(taps * tap, max(tap, GRAD_TILE_BYTES))
        sizes = (n, c_i, w_shape[0], w_shape, geometry.out_size)
        flat = plan_weight_grad(
            *sizes, geometry.stride, geometry.dilation, options.groups, item, GRAD_TILE_BYTES
        )
        col2im = input_grad_workspace(
            *sizes, geometry.padded_size, geometry.stride, geometry.dilation, item
        )
        # padded input and its gradient (twice: uncropped, then cropped or folded), dW's
        # workspace, dY (cast and transposed), dX's (transposed convolution or col2im)
        output_bytes = math.prod(output_shape) * item
        dw = max(cols + tap, flat.workspace_bytes)
        dx = max(plan.workspace_bytes, col2im)
        workspace = 3 * padded + dw + 2 * output_bytes + dx
    output_values = math.prod(output_shape)
    grad_values = math.prod(input_shape) + math.prod(kernel_shape)
    grad_values += 0 if bias_shape is None else math.prod(bias_shape)
    per_value = _json_bytes_per_value(acc.out.kind == "c")
    parts = [
        *_tensor_parts(
            input_shape, input_dtype, kernel_shape, kernel_dtype, bias_shape, bias_dtype
        ),
        (N_("output gradient"), output_values * max(out_item, item)),
        (N_("gradients"), grad_values * max(out_item, item)),
        (N_("workspace"), workspace),
        (N_("JSON text"), grad_values * per_value if as_json else 0),
        (N_("report"), _report_bytes(math.prod(input_shape) * out_item)),
    ]
    return RunEstimate(tuple(parts))


def estimate_pool_grad(
    input_shape: Shape, input_dtype: np.dtype[Any], options: PoolOptions, *, as_json: bool = False
) -> RunEstimate:
    """What ``convcli pool --grad`` holds at once: the pooling run's parts, its indices
    (max kinds), ``dY`` and the input's gradient, with the padded gradient before the crop.

    Examples
    --------
    >>> from convcli.shapes.pooling import PoolOptions
    >>> e = estimate_pool_grad((1, 8, 32, 32), np.dtype("f4"), PoolOptions("avg", 2))
    >>> dict(e.parts)["gradient"]
    65536
    """
    run = estimate_pool_run(input_shape, input_dtype, options, indices=True)
    parts = dict(run.parts)
    output_values = parts["output"] // max(1, _pool_out_item(input_dtype, options))
    wide = 16 if input_dtype.kind == "c" else 8
    input_values = math.prod(input_shape)
    kernel = options.kernel_size if options.kernel_size is not None else 1
    k_h, k_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    padded = math.prod(input_shape[:-2]) * (input_shape[-2] + 2 * k_h) * (input_shape[-1] + 2 * k_w)
    parts.update(
        {
            N_("output gradient"): output_values * wide * 3,
            N_("gradient"): input_values * wide,
            N_("workspace"): parts["workspace"] + padded * wide + output_values * 8 * 3,
            N_("JSON text"): input_values * JSON_BYTES_PER_VALUE if as_json else 0,
        }
    )
    return RunEstimate(tuple(parts.items()))


def _pool_out_item(dtype: np.dtype[Any], options: PoolOptions) -> int:
    from convcli.ops.pooling import pool_dtypes

    return pool_dtypes(dtype, "max" if options.kind.endswith("max") else "avg")[1].itemsize
