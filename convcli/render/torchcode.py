"""``convcli net --emit torch``: the network as a self-contained PyTorch script.

The script builds the same layers with ``torch.nn`` (an ``nn.Sequential``, with a small
``Residual`` module where the spec has ``residual(...)``), runs a zero input of the given
shape through it and prints every layer's output shape, the parameter count and the
output shape, so its numbers can be set beside ``convcli net``'s. Plain text, no rich.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from convcli.shapes.network import LayerRow, Network

__all__ = ["torch_script"]

_RESIDUAL = '''

class Residual(nn.Module):
    """main(x) + shortcut(x); the shortcut is the identity when absent."""

    def __init__(self, main, shortcut=None):
        super().__init__()
        self.main = main
        self.shortcut = nn.Identity() if shortcut is None else shortcut

    def forward(self, x):
        return self.main(x) + self.shortcut(x)
'''

_SIMPLE = {
    "relu": "nn.ReLU()",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "silu": "nn.SiLU()",
    "identity": "nn.Identity()",
    "gap": "nn.AdaptiveAvgPool2d((1, 1))",
}


def torch_script(network: Network) -> str:
    """A Python script that builds ``network`` with torch.nn and prints its shapes.

    Examples
    --------
    >>> from convcli.shapes.netspec import parse_spec
    >>> from convcli.shapes.network import walk_network
    >>> net = walk_network(parse_spec("conv(6, k=5) > relu"), (1, 1, 28, 28))
    >>> print(torch_script(net).split("net = ")[1].split("x = ")[0].strip())
    nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros'),
        nn.ReLU(),
    )
    """  # noqa: E501
    uses_residual = _has_residual(network.rows)
    shape = ", ".join(str(size) for size in network.input_shape)
    lines = [
        '"""Written by `convcli net --emit torch`: the same network, built with torch.nn.',
        "",
        f"convcli counts {network.params} parameters, {network.buffers} buffer values and an",
        f"output of shape {network.output_shape}; running this prints torch's numbers.",
        '"""',
        "",
        "import torch",
        "from torch import nn",
    ]
    if uses_residual:
        lines.extend(_RESIDUAL.rstrip("\n").split("\n"))
    lines.append("")
    lines.append("")
    lines.append("net = " + _sequential(network.rows, 0))
    lines.extend(
        [
            "",
            f"x = torch.zeros({shape})",
            "net.eval()",
            "with torch.no_grad():",
            "    for index, layer in enumerate(net, start=1):",
            "        x = layer(x)",
            '        print(f"{index:>3}  {type(layer).__name__:<18} {tuple(x.shape)}")',
            'print("params", sum(p.numel() for p in net.parameters()))',
            'print("buffers", sum(b.numel() for b in net.buffers()))',
            'print("output shape", tuple(x.shape))',
            "",
        ]
    )
    return "\n".join(lines)


def _has_residual(rows: Sequence[LayerRow]) -> bool:
    return any(row.spec.kind == "residual" or _has_residual(row.main) for row in rows)


def _sequential(rows: Sequence[LayerRow], depth: int) -> str:
    pad = "    " * (depth + 1)
    inner = "".join(f"{pad}{_module(row, depth + 1)},\n" for row in rows)
    return f"nn.Sequential(\n{inner}{'    ' * depth})"


def _module(row: LayerRow, depth: int) -> str:
    spec, a = row.spec, row.spec.args
    kind = spec.kind
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "residual":
        main = _sequential(row.main, depth)
        if not row.shortcut:
            return f"Residual({main})"
        return f"Residual({main}, {_sequential(row.shortcut, depth)})"
    c = row.input_shape[1] if len(row.input_shape) > 1 else 0
    if kind == "conv":
        return _call("nn.Conv2d", [c, a["out_channels"]], a, _CONV_KEYS)
    if kind == "convT":
        return _call("nn.ConvTranspose2d", [c, a["out_channels"]], a, _CONVT_KEYS)
    if kind == "maxpool":
        return _call(
            "nn.MaxPool2d", [], a, ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
        )
    if kind == "avgpool":
        keys = (
            "kernel_size",
            "stride",
            "padding",
            "ceil_mode",
            "count_include_pad",
            "divisor_override",
        )
        return _call("nn.AvgPool2d", [], a, keys)
    if kind == "adaptiveavgpool":
        return _call("nn.AdaptiveAvgPool2d", [], a, ("output_size",))
    if kind == "adaptivemaxpool":
        return _call("nn.AdaptiveMaxPool2d", [], a, ("output_size",))
    if kind == "bn":
        name = "nn.BatchNorm2d" if len(row.input_shape) == 4 else "nn.BatchNorm1d"
        norm_keys: tuple[str, ...] = ("eps", "momentum", "affine", "track_running_stats")
        if a["bias"] is False:
            # bias= exists only in recent torch.nn: written only when it is not the default.
            norm_keys = (*norm_keys, "bias")
        return _call(name, [c], a, norm_keys)
    if kind == "gelu":
        return _call("nn.GELU", [], a, ("approximate",))
    if kind == "leakyrelu":
        return _call("nn.LeakyReLU", [], a, ("negative_slope",))
    if kind == "dropout":
        return _call("nn.Dropout", [], a, ("p",))
    if kind == "flatten":
        return _call("nn.Flatten", [], a, ("start_dim", "end_dim"))
    if kind == "linear":
        return _call("nn.Linear", [row.input_shape[-1], a["out_features"]], a, ("bias",))
    raise AssertionError(kind)


_CONV_KEYS = ("kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode")
_CONVT_KEYS = (
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "groups",
    "bias",
    "dilation",
)


def _call(name: str, positional: list[object], args: object, keys: Sequence[str]) -> str:
    values = dict(args)  # type: ignore[call-overload]
    parts = [python_literal(value) for value in positional]
    parts.extend(f"{key}={python_literal(values[key])}" for key in keys)
    return f"{name}({', '.join(parts)})"


def python_literal(value: object) -> str:
    """``value`` as Python source that evaluates to it: ``repr``, except the floats that
    have no literal (``inf``, ``nan``), written as ``float('inf')``.

    >>> python_literal(float("inf")), python_literal(float("-inf")), python_literal(float("nan"))
    ("float('inf')", "float('-inf')", "float('nan')")
    >>> python_literal(-0.0), python_literal((3, 5)), python_literal(1e-05)
    ('-0.0', '(3, 5)', '1e-05')
    """
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, tuple):
        items = [python_literal(item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(value)
