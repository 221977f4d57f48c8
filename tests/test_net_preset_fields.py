"""`convcli net --preset`: every preset's receptive fields against PyTorch's gradient.

Each preset is built by ``--emit torch`` at a small input and run in float64 with positive
weights and a positive input, so no path cancels; the cells one output cell depends on
are where the gradient of that cell is not zero. Max pooling passes its gradient to one
cell of each window, so it is swapped for average pooling of the same geometry (the cells
a window covers are what a field counts), and ReLU6 for ReLU (positive values above 6
would stop the gradient). BatchNorm runs in eval mode: per position, as convcli counts it.

Per top-level layer that changes the field (and the last spatial one), for its central
output cell:
- the cells ``--at`` traces are exactly the gradient's support, per axis;
- where the field (Araujo's ``start + i*jump -+ (r-1)/2``) lies inside the input, it is the
  support's first and last cell: size, jump and start at once;
- where it does not, the support lies inside it (the field counts the padding);
- a global field (``all``) is the whole input.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from test_net import torch_network

from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import Network, trace_cell, walk_network
from convcli.shapes.presets import PRESETS

pytestmark = pytest.mark.torch

# Small inputs that every preset still reads (the book's channel counts, fewer cells):
# the fields of the first layers fit inside them, the later ones cross the border.
SMALL_INPUTS = {
    "lenet": (1, 1, 28, 28),
    "alexnet": (1, 1, 99, 83),
    "vgg11": (1, 1, 48, 40),
    "nin": (1, 1, 99, 83),
    "googlenet": (1, 1, 64, 56),
    "resnet18": (1, 1, 64, 56),
    "densenet": (1, 1, 64, 56),
    "mobilenet_v2": (1, 3, 64, 56),
    "unet": (1, 1, 32, 48),
}
# Beside the presets: squeeze-excitation (a global field) in a MobileNetV3-like block,
# torchvision's ResNet-50 bottleneck, and the norm layers that work per position.
SPECS = {
    "se_block": (
        "conv(16, k=3, s=2, p=1) > bn > hardswish > conv(16, k=3, p=1, g=16) > se(8) > "
        "conv(24, k=1) > bn > conv(8, k=3, p=1)",
        (1, 3, 21, 19),
    ),
    "se_twice": (
        "conv(8, k=3, p=1) > se(4) > conv(16, k=3, s=2, p=1) > relu > se(4) > conv(8, k=3) > "
        "mul(identity | adaptiveavgpool(1) > conv(8, k=1) > sigmoid) > conv(4, k=3, p=1)",
        (1, 3, 29, 29),
    ),
    "bottleneck": (
        "conv(64, k=7, s=2, p=3, bias=False) > bn > relu > maxpool(3, s=2, p=1) > "
        "residual(conv(64, k=1, bias=False) > bn > relu > conv(64, k=3, p=1, bias=False) > bn"
        " > relu > conv(256, k=1, bias=False) > bn, shortcut=conv(256, k=1, bias=False) > bn)"
        " > relu > residual(conv(128, k=1, bias=False) > bn > relu > "
        "conv(128, k=3, s=2, p=1, bias=False) > bn > relu > conv(512, k=1, bias=False) > bn,"
        " shortcut=conv(512, k=1, s=2, bias=False) > bn) > relu",
        (1, 3, 67, 61),
    ),
}


def test_every_preset_is_covered() -> None:
    assert set(SMALL_INPUTS) == set(PRESETS)


def _positive(module: Any) -> Any:
    """``module`` in float64, eval mode, positive weights scaled by their fan-in, max
    pooling as average pooling and ReLU6 as ReLU (see the module's docstring)."""
    import torch
    from torch import nn

    def swap(parent: Any) -> None:
        for name, child in parent.named_children():
            if isinstance(child, nn.MaxPool2d):
                assert child.dilation == 1
                pool = nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode)
                setattr(parent, name, pool)
            elif isinstance(child, nn.ReLU6):
                setattr(parent, name, nn.ReLU())
            else:
                swap(child)

    swap(module)
    module = module.double().eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in module.parameters():
            values = torch.rand(parameter.shape, generator=generator, dtype=torch.float64)
            scale = parameter[0].numel() if parameter.dim() > 1 else 1
            parameter.copy_((0.5 + values) / scale)
    return module


def _hold_gates(module: Any) -> None:
    """Detach each squeeze-excitation's scale and each branch of a ``mul`` broadcast from
    one cell: what remains is each cell's own window."""
    for layer in module.modules():
        if type(layer).__name__ == "SqueezeExcitation":

            def gate(x: Any, se: Any = layer) -> Any:
                scale = se.fc2(se.activation(se.fc1(se.avgpool(x))))
                return se.scale_activation(scale).detach() * x

            layer.forward = gate
        elif type(layer).__name__ == "Mul":

            def product(x: Any, join: Any = layer) -> Any:
                out = None
                for branch in join.branches:
                    y = branch(x)
                    y = y.detach() if y.shape[-2:] == (1, 1) else y
                    out = y if out is None else out * y
                return out

            layer.forward = product


def _supports(
    net: Network, held: bool = False
) -> list[tuple[int, tuple[int, int], set[int], set[int]]]:
    """For each top-level spatial layer: its number, its central cell and the input rows and
    columns where that cell's gradient is not zero (one forward, one backward per layer);
    ``held``: with the squeeze-excitation gates held fixed."""
    import torch

    module = _positive(torch_network(net))
    if held:
        _hold_gates(module)
    x = torch.rand(net.input_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = (x + 0.5).requires_grad_()
    supports = []
    out = x
    last = max(number for number, row in enumerate(net.rows, start=1) if row.spatial)
    for number, (layer, row) in enumerate(zip(module, net.rows, strict=True), start=1):
        out = layer(out)
        if number > last:
            break
        # A layer that keeps the field (an activation, BatchNorm) is checked through the
        # next one that changes it: one backward less.
        if number < last and row.fields == net.rows[number].fields:
            continue
        cell = ((row.output_shape[2] - 1) // 2, (row.output_shape[3] - 1) // 2)
        (grad,) = torch.autograd.grad(out[:, :, cell[0], cell[1]].sum(), x, retain_graph=True)
        reached = grad.abs().sum(dim=(0, 1)) > 0
        rows = {int(i) for i in reached.any(dim=1).nonzero().flatten()}
        cols = {int(j) for j in reached.any(dim=0).nonzero().flatten()}
        supports.append((number, cell, rows, cols))
    return supports


def _assert_fields_are_the_support(net: Network) -> int:
    """The module docstring's checks; returns how many layers had a field inside the input."""
    assert net.error is None, net.error
    inside = 0
    held = _supports(net, held=True) if any(row.spec.kind == "se" for row in net.rows) else None
    for at, (number, cell, rows, cols) in enumerate(_supports(net)):
        row = net.rows[number - 1]
        trace = trace_cell(net, cell, number)
        where = (number, row.spec.text[:60], cell)
        assert (set(trace.row_cells), set(trace.col_cells)) == (rows, cols), where
        for axis, (field, reached) in enumerate(zip(row.fields, (rows, cols), strict=True)):
            if field is None:  # not one field for all cells (a strided convT): the trace says
                continue
            size = net.input_shape[2 + axis]
            if field.whole:
                assert reached == set(range(size)), where
                if not field.jump:
                    continue
                # Its jump and start: those of each cell's own window, the gates held fixed.
                assert held is not None
                reached = (held[at][2], held[at][3])[axis]
            first = field.first + cell[axis] * field.jump
            last = first + field.size - 1
            if first >= 0 and last <= size - 1:
                inside += 1
                assert (min(reached), max(reached)) == (int(first), int(last)), where
                assert first.denominator == 1, where
                assert reached == set(range(int(first), int(last) + 1)), where
            else:
                assert first <= min(reached) and max(reached) <= last, where
    return inside


SLOW = {"alexnet", "googlenet", "mobilenet_v2", "resnet18", "unet", "vgg11", "densenet"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in SMALL_INPUTS],
)
def test_preset_fields_are_the_gradient_support(name: str) -> None:
    pytest.importorskip("torch")
    net = walk_network(parse_spec(PRESETS[name].spec), SMALL_INPUTS[name])
    # Some layers' fields lie inside the input, so size, jump and start are checked exactly.
    assert _assert_fields_are_the_support(net) >= 4


@pytest.mark.parametrize("name", sorted(SPECS))
def test_block_fields_are_the_gradient_support(name: str) -> None:
    pytest.importorskip("torch")
    spec, shape = SPECS[name]
    net = walk_network(parse_spec(spec), shape)
    assert _assert_fields_are_the_support(net) >= 2
    if name.startswith("se_"):
        # Global, the cells' own windows still stepping (issue 21: the second SE kept them).
        fields = net.rows[-1].fields
        assert all(field is not None and field.whole and field.jump for field in fields)


def _held(norm: Any) -> Any:
    """``norm`` (GroupNorm, InstanceNorm2d or LayerNorm) with its mean and variance detached:
    the same values, a gradient that does not flow through the statistics."""
    import torch
    from torch import nn

    class Held(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if isinstance(norm, nn.LayerNorm):
                grouped = x.reshape(*x.shape[: -len(norm.normalized_shape)], -1)
                scale = norm.normalized_shape
            else:  # GroupNorm; InstanceNorm2d: a group per channel
                grouped = x.reshape(x.shape[0], getattr(norm, "num_groups", x.shape[1]), -1)
                scale = (1, -1, 1, 1)
            mean = grouped.mean(dim=-1, keepdim=True).detach()
            var = grouped.var(dim=-1, unbiased=False, keepdim=True).detach()
            y = ((grouped - mean) / torch.sqrt(var + norm.eps)).reshape(x.shape)
            if getattr(norm, "weight", None) is not None:
                y = y * norm.weight.reshape(scale) + norm.bias.reshape(scale)
            return y

    return Held()


NORMS = [
    # (norm, whether its statistics come from the whole map in eval mode)
    ("groupnorm(2)", True),
    ("instancenorm", True),
    ("instancenorm(affine=True)", True),
    ("layernorm((4, 11, 11))", True),
    ("layernorm(11)", True),
    ("bn", False),
    ("instancenorm(track_running_stats=True)", False),
    ("layernorm2d", False),
]


@pytest.mark.parametrize(("norm", "over_map"), NORMS)
def test_norm_fields_are_per_position_and_say_so(norm: str, over_map: bool) -> None:
    """Issue 21: BatchNorm (eval), InstanceNorm with running statistics (eval) and
    LayerNorm2d are per position: the field is the gradient's support. GroupNorm,
    InstanceNorm without them and a LayerNorm over the map take their statistics from the
    whole map in eval mode too: the gradient reaches every input cell, the field is the
    support with the statistics held fixed, and the row and the notes say so."""
    torch = pytest.importorskip("torch")
    from clitools import invoke, json_of

    spec, shape = f"conv(4, k=3) > {norm} > conv(2, k=3)", (1, 2, 13, 13)
    net = walk_network(parse_spec(spec), shape)
    assert [row.map_statistics for row in net.rows] == [False, over_map, False]
    module = _positive(torch_network(net))
    x = (torch.rand(shape, dtype=torch.float64) + 0.5).requires_grad_()
    live = module(x)
    (grad,) = torch.autograd.grad(live[0, 0, 4, 4], x)
    reached = grad[0].abs().sum(dim=0) > 0
    field = net.rows[-1].fields[0]
    assert field is not None and (field.size, field.jump, field.start) == (5, 1, Fraction(2))
    per_position = torch.zeros(13, 13, dtype=torch.bool)
    per_position[4:9, 4:9] = True
    if over_map:
        # Eval mode: every input cell; a LayerNorm over W alone: every column of the rows.
        across = torch.zeros(13, 13, dtype=torch.bool)
        across[slice(4, 9) if norm == "layernorm(11)" else slice(None), :] = True
        assert torch.equal(reached, across)
        module[1] = _held(module[1])
        held = module(x)
        assert torch.allclose(held, live)  # the same values ...
        (grad,) = torch.autograd.grad(held[0, 0, 4, 4], x)
        reached = grad[0].abs().sum(dim=0) > 0  # ... the support of the field
    assert torch.equal(reached, per_position)
    if norm == "layernorm2d":  # per position in training mode too
        module.train()
        (grad,) = torch.autograd.grad(module(x)[0, 0, 4, 4], x)
        assert torch.equal(grad[0].abs().sum(dim=0) > 0, per_position)
    args = ("net", spec, "--input-shape", "1x2x13x13")
    entry = json_of(invoke(*args, "--json"))["layers"][1]
    assert entry.get("field_without_statistics", False) is over_map
    text = " ".join(invoke(*args, env={"COLUMNS": "100", "NO_COLOR": "1"}).stdout.split())
    kind = norm.split("(")[0]
    assert (f"{kind}: mean and variance taken across the map" in text) is over_map
