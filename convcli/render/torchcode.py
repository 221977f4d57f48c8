"""``convcli net --emit torch``: the network as a self-contained PyTorch script.

The script builds the same layers with ``torch.nn`` (an ``nn.Sequential``, with a small
``Residual`` module where the spec has ``residual(...)``, and ``Concat``, ``Add``, ``Mul``,
``Chunk``, ``SqueezeExcitation`` and ``LayerNorm2d`` modules where it has those), runs a
zero input of the given shape through it and prints every layer's output shape, the
parameter count and the output shape, so its numbers can be set beside ``convcli net``'s.
Plain text, no rich.
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

_JOIN_MODULES = {
    "concat": '''

class Concat(nn.Module):
    """The branches on the same input, concatenated along channels."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)
''',
    "add": '''

class Add(nn.Module):
    """The branches on the same input, summed (with broadcasting)."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        return out
''',
    "mul": '''

class Mul(nn.Module):
    """The branches on the same input, multiplied element-wise (with broadcasting)."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out * branch(x)
        return out
''',
    "chunk": '''

class Chunk(nn.Module):
    """The channels split into equal parts, part i through branch i, concatenated."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        parts = torch.chunk(x, len(self.branches), dim=1)
        return torch.cat([branch(part) for branch, part in zip(self.branches, parts)], dim=1)
''',
    "se": '''

class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: pool, squeeze, act, expand, gate, multiply."""

    def __init__(self, channels, squeeze, activation, gate):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation
        self.scale_activation = gate

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x
''',
    "layernorm2d": '''

class LayerNorm2d(nn.LayerNorm):
    """torchvision's (ConvNeXt): LayerNorm over the channels at each position."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = super().forward(x)
        return x.permute(0, 3, 1, 2)
''',
}

_SIMPLE = {
    "relu": "nn.ReLU()",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "silu": "nn.SiLU()",
    "identity": "nn.Identity()",
    "gap": "nn.AdaptiveAvgPool2d((1, 1))",
    "relu6": "nn.ReLU6()",
    "hardswish": "nn.Hardswish()",
    "hardsigmoid": "nn.Hardsigmoid()",
    "mish": "nn.Mish()",
}
_JOIN_CLASSES = {"concat": "Concat", "add": "Add", "mul": "Mul", "chunk": "Chunk"}


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
    used = _kinds(network.rows)
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
    for kind, source in _JOIN_MODULES.items():
        if kind in used:
            lines.extend(source.rstrip("\n").split("\n"))
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
    return any(row.spec.kind == "residual" or _has_residual(row.inner) for row in rows)


def _kinds(rows: Sequence[LayerRow]) -> set[str]:
    """Every layer kind in ``rows``, inside blocks too."""
    kinds: set[str] = set()
    for row in rows:
        kinds.add(row.spec.kind)
        kinds |= _kinds(row.inner)
    return kinds


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
    if kind == "instancenorm" and len(row.input_shape) == 3:
        c = row.input_shape[0]  # PyTorch reads (C, H, W): one unbatched sample
    if kind in _JOIN_CLASSES:
        branches = ", ".join(_sequential(branch, depth) for branch in row.branches)
        return f"{_JOIN_CLASSES[kind]}({branches})"
    if kind == "se":
        conv_1, act_1, gate_row = row.branches[1][1], row.branches[1][2], row.branches[1][4]
        return (
            f"SqueezeExcitation({c}, {conv_1.spec.args['out_channels']}, "
            f"{_module(act_1, depth)}, {_module(gate_row, depth)})"
        )
    if kind == "shuffle":
        return f"nn.ChannelShuffle({a['groups']})"
    if kind == "elu":
        return _call("nn.ELU", [], a, ("alpha",))
    if kind == "prelu":
        return _call("nn.PReLU", [], a, ("num_parameters", "init"))
    if kind == "softmax":
        return _call("nn.Softmax", [], a, ("dim",))
    if kind == "groupnorm":
        group = ("eps", "affine") if a["bias"] else ("eps", "affine", "bias")
        return _call("nn.GroupNorm", [a["num_groups"], c], a, group)
    if kind == "layernorm2d":
        return _call("LayerNorm2d", [c], a, ("eps", "elementwise_affine", "bias"))
    if kind == "layernorm":
        return _call(
            "nn.LayerNorm", [a["normalized_shape"]], a, ("eps", "elementwise_affine", "bias")
        )
    if kind == "instancenorm":
        norm: tuple[str, ...] = ("eps", "momentum", "affine", "track_running_stats")
        if a["bias"] is False:
            norm = (*norm, "bias")
        return _call("nn.InstanceNorm2d", [c], a, norm)
    if kind == "dropout2d":
        return _call("nn.Dropout2d", [], a, ("p",))
    if kind == "zeropad":
        return _call("nn.ZeroPad2d", [a["padding"]], a, ())
    if kind == "upsample":
        return _call("nn.Upsample", [], a, ("size", "scale_factor", "mode", "align_corners"))
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
