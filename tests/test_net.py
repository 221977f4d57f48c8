"""`convcli net`: the spec reader, the arithmetic through a stack, the table, JSON and script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcli.errors import OptionError
from convcli.render.torchcode import torch_script
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import CellTrace, Network, trace_cell, walk_network
from convcli.shapes.presets import PRESETS

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# What d2l's layer_summary prints (PyTorch edition), module by module.
D2L_PRINTED = {
    "lenet": [
        (1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 10, 10),
        (1, 16, 5, 5), (1, 400), (1, 120), (1, 120), (1, 84), (1, 84), (1, 10),
    ],
    "alexnet": [
        (1, 96, 54, 54), (1, 96, 54, 54), (1, 96, 26, 26), (1, 256, 26, 26), (1, 256, 26, 26),
        (1, 256, 12, 12), (1, 384, 12, 12), (1, 384, 12, 12), (1, 384, 12, 12),
        (1, 384, 12, 12), (1, 256, 12, 12), (1, 256, 12, 12), (1, 256, 5, 5), (1, 6400),
        (1, 4096), (1, 4096), (1, 4096), (1, 4096), (1, 4096), (1, 4096), (1, 10),
    ],
}  # fmt: skip
# The book's Sequential blocks: (our row number where the block ends, its printed shape).
D2L_BLOCKS = {
    "vgg11": [
        (3, (1, 64, 112, 112)), (6, (1, 128, 56, 56)), (11, (1, 256, 28, 28)),
        (16, (1, 512, 14, 14)), (21, (1, 512, 7, 7)), (22, (1, 25088)), (29, (1, 10)),
    ],
    "nin": [
        (6, (1, 96, 54, 54)), (7, (1, 96, 26, 26)), (13, (1, 256, 26, 26)),
        (14, (1, 256, 12, 12)), (20, (1, 384, 12, 12)), (21, (1, 384, 5, 5)),
        (22, (1, 384, 5, 5)), (28, (1, 10, 5, 5)), (29, (1, 10, 1, 1)), (30, (1, 10)),
    ],
    "resnet18": [
        (4, (1, 64, 24, 24)), (8, (1, 64, 24, 24)), (12, (1, 128, 12, 12)),
        (16, (1, 256, 6, 6)), (20, (1, 512, 3, 3)), (23, (1, 10)),
    ],
}  # fmt: skip


def preset_network(name: str) -> Network:
    preset = PRESETS[name]
    return walk_network(parse_spec(preset.spec), preset.input_shape)


# -- the spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "column", "words"),
    [
        ("conv(6, k=5) > __import__('os')", 16, "unknown layer '__import__'"),
        ("conv(6, k=5) > os.system('ls')", 16, "unknown layer 'os.system'"),
        ("conv(6, k=5", 5, "never closed"),
        ("conv(6, k=5))", 13, "without a matching"),
        ("relu > conv(6, q=5)", 16, "no argument 'q'"),
        ("conv(6, k=5.0)", 11, "kernel_size must be"),
        ("conv(6, k=5, s=2, stride=1)", 19, "given twice"),
        ("conv(6, k=(1, 2, 3))", 11, "kernel_size"),
        ("conv(6, k=3) < relu", 16, "joined by '>'"),
        ("conv(6, k=3) >", 14, "no layer after"),
        ("conv(k=3)", 1, "needs out_channels"),
        ("relu > lambda: 1", 8, "not a layer"),
        ("conv(6, k=[1 for x in y])", 11, "only literal values"),
        ("dropout(1.5)", 9, "probability"),
        ("conv(*a)", 6, "'*'"),
        ("residual(relu, skip=relu)", 16, "only shortcut"),
        ("maxpool(2) > Conv2d(3, 6)", 14, "needs kernel_size"),
    ],
)
def test_a_bad_spec_is_one_error_at_its_column(spec: str, column: int, words: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_spec(spec)
    message = str(caught.value)
    assert message.startswith(f"spec column {column}:"), message
    assert words in message


def test_a_bad_spec_on_the_command_line_exits_2_with_one_line() -> None:
    result = invoke("net", "conv(6, k=5) > __import__('os')", "--input-shape", "1x1x8x8")
    assert_usage_error(result, "spec column 16", "__import__")


def test_a_spec_file_takes_lines_comments_and_print_model(tmp_path: Path) -> None:
    path = tmp_path / "arch.txt"
    path.write_text(
        "# LeNet's first half\nconv(6, k=5, p=2)  # keeps 28x28\n> sigmoid\navgpool(2)\n"
        "residual(\n  conv(6, k=3, p=1)\n  > relu)\n  (3): ReLU()\n",
        encoding="utf-8",
    )
    layers = parse_spec(path.read_text(encoding="utf-8"), source="arch.txt")
    assert [layer.kind for layer in layers] == ["conv", "sigmoid", "avgpool", "residual", "relu"]
    assert [layer.kind for layer in layers[3].main] == ["conv", "relu"]
    assert layers[2].where == "arch.txt line 4, column 1"


def test_a_spec_file_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "arch.txt"
    path.write_text("conv(6, k=5)\nrelu\nfoo(3)\n", encoding="utf-8")
    result = invoke("net", f"@{path}", "--input-shape", "1x1x28x28")
    assert_usage_error(result, "line 3, column 1", "unknown layer 'foo'")


def test_a_custom_module_in_print_model_is_refused_by_name() -> None:
    text = "Sequential(\n  (0): Residual(\n    (conv1): Conv2d(1, 2, kernel_size=(3, 3))\n  )\n)"
    with pytest.raises(OptionError, match="line 2, column 8: 'Residual\\('"):
        parse_spec(text)


def test_short_keys_and_torch_names_read_the_same() -> None:
    short = parse_spec("conv(16, k=3, s=2, p=1, d=1, g=1)")[0]
    printed = parse_spec("Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))")[0]
    assert short.args == printed.args
    assert printed.stated == {"in_channels": 3}


# -- the arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(D2L_PRINTED))
def test_presets_print_d2l_shapes_layer_by_layer(name: str) -> None:
    net = preset_network(name)
    assert net.error is None
    assert [row.output_shape for row in net.rows] == D2L_PRINTED[name]


@pytest.mark.parametrize("name", sorted(D2L_BLOCKS))
def test_presets_print_d2l_shapes_block_by_block(name: str) -> None:
    net = preset_network(name)
    assert net.error is None
    assert len(net.rows) == D2L_BLOCKS[name][-1][0]
    for number, shape in D2L_BLOCKS[name]:
        assert net.rows[number - 1].output_shape == shape, number


def test_a_layer_that_does_not_fit_stops_the_walk_and_names_itself() -> None:
    net = walk_network(parse_spec("conv(16, k=5) > maxpool(2) > conv(8, k=7)"), (1, 3, 12, 12))
    assert len(net.rows) == 2
    assert str(net.error) == "layer 3 conv(8, k=7): input 4x4 is smaller than the 7x7 window"


@pytest.mark.parametrize(
    ("spec", "shape", "words"),
    [
        ("Conv2d(3, 8, kernel_size=3)", (1, 1, 8, 8), "states 3 input channels, 1 arrive"),
        ("flatten > Linear(in_features=10, out_features=2)", (1, 2, 2, 2), "in_features=10"),
        ("conv(6, k=3, g=4)", (1, 4, 8, 8), "groups=4 does not divide the 6 output"),
        ("flatten > conv(3, k=1)", (1, 2, 2, 2), "needs a 4-D input"),
        ("residual(conv(8, k=3, p=1))", (1, 4, 8, 8), "identity shortcut 1x4x8x8"),
        ("residual(relu > conv(8, k=9))", (1, 4, 8, 8), "layer 1.2 conv(8, k=9)"),
        ("conv(4, k=3, s=2, p='same')", (1, 1, 8, 8), "needs stride 1"),
        ("flatten > BatchNorm2d(8)", (1, 2, 2, 2), "BatchNorm2d needs a 4-D input"),
        ("maxpool(2, p=2)", (1, 1, 8, 8), "at most half the window"),
        ("convT(2, k=3, s=2, output_padding=2)", (1, 1, 4, 4), "output padding must be smaller"),
        ("conv(2, k=3, p=3, padding_mode='reflect')", (1, 1, 3, 3), "reflect padding 3 must be <"),
        ("conv(2, k=3, p=4, padding_mode='circular')", (1, 1, 3, 3), "wraps around once"),
    ],
)
def test_layers_that_do_not_fit_say_why(spec: str, shape: tuple[int, ...], words: str) -> None:
    net = walk_network(parse_spec(spec), shape)
    assert net.error is not None
    assert words in str(net.error)
    assert str(net.error).startswith("layer ")


def test_residual_rows_add_their_inner_layers() -> None:
    spec = "residual(conv(8, k=3, p=1, s=2) > bn > relu, shortcut=conv(8, k=1, s=2))"
    net = walk_network(parse_spec(spec), (2, 4, 8, 8))
    block = net.rows[0]
    assert [row.index for row in block.main] == ["1.1", "1.2", "1.3"]
    assert [row.index for row in block.shortcut] == ["1.s1"]
    inner = (*block.main, *block.shortcut)
    assert block.params == sum(row.params for row in inner)
    assert block.output_shape == (2, 8, 4, 4)
    # Fields of the two paths: a 3-wide window and a 1-wide one, both stride 2.
    assert block.fields[0] is not None and block.fields[0].size == 3


def test_trace_of_a_cell_outside_the_output_is_refused() -> None:
    net = walk_network(parse_spec("conv(2, k=3)"), (1, 1, 5, 5))
    with pytest.raises(OptionError, match="outside layer 1's 3x3 output"):
        trace_cell(net, (3, 0))


# -- PyTorch as the oracle --------------------------------------------------------------------


def torch_network(net: Network) -> Any:
    """The torch.nn module --emit torch writes, built in this process."""
    script = torch_script(net)
    namespace: dict[str, Any] = {}
    exec(script.split("\nx = torch.zeros")[0], namespace)  # the module definitions only
    return namespace["net"]


def torch_costs(module: Any, x: Any) -> list[tuple[tuple[int, ...], int]]:
    """Each top-level module's output shape and weight MACs, counted with forward hooks."""
    import torch
    from torch import nn

    macs: list[int] = []

    def count(layer: Any, inputs: Any, output: Any) -> None:
        if isinstance(layer, nn.Conv2d):
            macs.append(output.numel() * layer.weight[0].numel())
        elif isinstance(layer, nn.ConvTranspose2d):
            macs.append(inputs[0].numel() * layer.weight[0].numel())
        elif isinstance(layer, nn.Linear):
            macs.append(output.numel() * layer.in_features)

    handles = [m.register_forward_hook(count) for m in module.modules()]
    rows = []
    module.eval()
    with torch.no_grad():
        for layer in module:
            macs.clear()
            x = layer(x)
            rows.append((tuple(x.shape), sum(macs)))
    for handle in handles:
        handle.remove()
    return rows


def assert_matches_torch(net: Network) -> None:
    import torch

    assert net.error is None, net.error
    module = torch_network(net)
    rows = torch_costs(module, torch.zeros(net.input_shape))
    assert [shape for shape, _ in rows] == [row.output_shape for row in net.rows]
    assert [macs for _, macs in rows] == [row.macs for row in net.rows]
    assert sum(p.numel() for p in module.parameters()) == net.params
    assert sum(b.numel() for b in module.buffers()) == net.buffers
    tensors = [*module.parameters(), *module.buffers()]
    assert net.param_bytes(4) == sum(t.numel() * t.element_size() for t in tensors)
    for layer, row in zip(module, net.rows, strict=True):
        assert sum(p.numel() for p in layer.parameters()) == row.params


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_match_torch(name: str) -> None:
    pytest.importorskip("torch")
    assert_matches_torch(preset_network(name))


MIXED = [
    ("conv(8, k=3, s=2, p=1, bias=False) > bn > gelu > maxpool(3, s=2, p=1, ceil_mode=True)",
     (2, 3, 17, 19)),
    ("conv(6, k=(3, 5), d=(2, 1), g=3, p='same') > leakyrelu(0.2) > avgpool((2, 3), s=(1, 2))",
     (1, 3, 11, 12)),
    ("convT(4, k=4, s=2, p=1) > silu > convT(2, k=3, s=3, output_padding=1, g=2, d=2)",
     (1, 6, 5, 7)),
    ("adaptivemaxpool((3, 5)) > tanh > adaptiveavgpool(2) > gap > flatten > linear(3, bias=False)",
     (2, 4, 7, 11)),
    ("residual(conv(8, k=3, p=1, s=2) > bn > relu > conv(8, k=3, p=1) > bn, "
     "shortcut=conv(8, k=1, s=2)) > relu > residual(identity > dropout(0.3)) > flatten > bn",
     (2, 4, 9, 9)),
    ("Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)) > ReLU() > "
     "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False) > "
     "Flatten(start_dim=1, end_dim=-1) > Linear(in_features=64, out_features=5, bias=True)",
     (1, 3, 8, 8)),
    ("conv(4, k=3, padding_mode='reflect', p=1) > flatten(2) > linear(3)", (1, 2, 4, 4)),
]  # fmt: skip


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "shape"), MIXED)
def test_mixed_stacks_match_torch(spec: str, shape: tuple[int, ...]) -> None:
    pytest.importorskip("torch")
    assert_matches_torch(walk_network(parse_spec(spec), shape))


@pytest.mark.torch
def test_print_model_output_reads_back_to_the_same_network() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.ConvTranspose2d(8, 4, 2, stride=2),
        nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Dropout(p=0.5),
        nn.Linear(4, 2),
    )
    net = walk_network(parse_spec(str(model)), (1, 3, 15, 15))
    assert net.error is None
    assert net.params == sum(p.numel() for p in model.parameters())
    model.eval()
    assert net.output_shape == tuple(model(torch.zeros(1, 3, 15, 15)).shape)


@pytest.mark.torch
def test_the_emitted_script_runs_and_agrees(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    result = invoke("net", "--preset", "resnet18", "--emit", "torch")
    assert result.exit_code == 0, result.output
    script = tmp_path / "resnet18.py"
    script.write_text(result.stdout, encoding="utf-8")
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    lines = ran.stdout.splitlines()
    net = preset_network("resnet18")
    assert f"params {net.params}" in lines
    assert f"buffers {net.buffers}" in lines
    assert f"output shape {net.output_shape}" in lines
    printed = [line.split(None, 2)[2] for line in lines if line[:3].strip().isdigit()]
    assert printed == [str(row.output_shape) for row in net.rows]


# Random chains of windowed layers: (kind, kernel, stride, padding, dilation).
layer_strategy = st.tuples(
    st.sampled_from(["conv", "maxpool", "avgpool"]),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(1, 3),
)


def chain_spec(chain: list[tuple[str, int, int, int, int]]) -> str:
    parts = []
    for kind, k, s, p, d in chain:
        if kind == "conv":
            parts.append(f"conv(2, k={k}, s={s}, p={p}, d={d})")
        elif kind == "maxpool":
            parts.append(f"maxpool({k}, s={s}, p={min(p, k // 2)}, d={d})")
        else:
            parts.append(f"avgpool({k}, s={s}, p={min(p, k // 2)})")
    return " > ".join(parts)


def gradient_support(
    net: Network, cell: tuple[int, int], layer: int
) -> list[tuple[int, int] | None]:
    """Input rows and columns where d(output cell)/d(input) is non-zero (first, last).

    All-ones input, positive weights; max pooling becomes a depthwise convolution of the
    same geometry with positive weights (an average that may dilate).
    """
    import torch
    from torch import nn

    module = torch_network(net)
    layers = []
    for row, torch_layer in zip(net.rows, module, strict=True):
        if isinstance(torch_layer, nn.MaxPool2d):
            c = row.input_shape[1]
            torch_layer = nn.Conv2d(
                c, c, torch_layer.kernel_size, torch_layer.stride, torch_layer.padding,
                torch_layer.dilation, groups=c, bias=False,
            )  # fmt: skip
        for parameter in torch_layer.parameters():
            parameter.data.uniform_(0.5, 1.5)
        layers.append(torch_layer)
    x = torch.ones(net.input_shape, dtype=torch.float64, requires_grad=True)
    y = x
    for torch_layer in layers[:layer]:
        y = torch_layer.double()(y)
    y[0, 0, cell[0], cell[1]].backward()  # type: ignore[no-untyped-call]
    assert x.grad is not None
    support = (x.grad[0].abs().sum(dim=0) > 0).nonzero()
    if not len(support):
        return [None, None]
    return [(int(support[:, axis].min()), int(support[:, axis].max())) for axis in range(2)]


@pytest.mark.torch
@settings(max_examples=40, deadline=None)
@given(chain=st.lists(layer_strategy, min_size=1, max_size=4), data=st.data())
def test_field_jump_start_match_the_gradient_support(
    chain: list[tuple[str, int, int, int, int]], data: st.DataObject
) -> None:
    pytest.importorskip("torch")
    net = walk_network(parse_spec(chain_spec(chain)), (1, 2, 48, 40))
    assume(net.error is None)
    last = net.rows[-1]
    height, width = last.output_shape[2], last.output_shape[3]
    # The central cell (and, for the carried interval, one anywhere).
    cell = data.draw(st.sampled_from([((height - 1) // 2, (width - 1) // 2), (0, width - 1)]))
    support = gradient_support(net, cell, len(net.rows))
    trace = trace_cell(net, cell)
    if all(d == 1 for *_, d in chain):
        # Without dilation every layer's cells form one interval: the carried one is exact.
        assert support == [trace.rows, trace.cols] or (
            support == [None, None] and None in (trace.rows, trace.cols)
        )
    if support == [None, None]:
        return
    fields = last.fields
    for axis, size in enumerate((48, 40)):
        field = fields[axis]
        assert field is not None
        first = field.start + cell[axis] * field.jump - (field.size - 1) / 2
        last_index = first + field.size - 1
        # Araujo's field counts the padding: where it lies inside the input, it is the support.
        if first >= 0 and last_index <= size - 1 and _inside_at_every_layer(net, cell, axis):
            assert support[axis] == (int(first), int(last_index))  # start, jump and size at once


def _trace_and_support_of_any_cell(
    spec: str, input_shape: tuple[int, int, int, int], data: st.DataObject
) -> tuple[CellTrace, list[tuple[int, int] | None]]:
    """Walk ``spec`` (assumed valid), draw any cell of its last output: its trace, its support."""
    net = walk_network(parse_spec(spec), input_shape)
    assume(net.error is None)
    last = net.rows[-1]
    cell = (
        data.draw(st.integers(0, last.output_shape[2] - 1)),
        data.draw(st.integers(0, last.output_shape[3] - 1)),
    )
    trace = trace_cell(net, cell)
    support = gradient_support(net, cell, len(net.rows))
    return trace, support


def _inside_at_every_layer(net: Network, cell: tuple[int, int], axis: int) -> bool:
    """Whether the cell's field, carried back without clipping, stays inside every layer."""
    lo = hi = cell[axis]
    for row in reversed(net.rows):
        assert row.steps is not None
        step = row.steps[axis]
        lo, hi = lo * step.stride - step.padding, hi * step.stride - step.padding + step.span - 1
        if lo < 0 or hi > step.n_in - 1:
            return False
    return True


@pytest.mark.torch
@settings(max_examples=40, deadline=None)
@given(
    chain=st.lists(
        st.tuples(
            st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
            st.integers(1, 4),
            st.integers(1, 2),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=3,
    ),
    data=st.data(),
)
def test_padding_modes_reach_the_cells_they_copy(
    chain: list[tuple[str, int, int, int]], data: st.DataObject
) -> None:
    pytest.importorskip("torch")
    spec = " > ".join(
        f"conv(2, k={k}, s={s}, p={p}, padding_mode={mode!r})" for mode, k, s, p in chain
    )
    trace, support = _trace_and_support_of_any_cell(spec, (1, 2, 7, 6), data)
    if trace.rows is None or trace.cols is None:
        assert support == [None, None]
        return
    # A cell copied into the padding is reached through it: the trace holds every such cell.
    for axis, span in enumerate((trace.rows, trace.cols)):
        found = support[axis]
        assert found is not None
        assert span[0] <= found[0] and found[1] <= span[1]
    if len(chain) == 1:
        assert support == [trace.rows, trace.cols]


upsampling_strategy = st.one_of(
    st.tuples(st.just("convT"), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2)),
    st.tuples(st.just("adaptive"), st.integers(1, 7), st.integers(1, 7), st.just(0)),
    st.tuples(st.just("conv"), st.integers(1, 3), st.integers(1, 2), st.integers(0, 1)),
)


@pytest.mark.torch
@settings(max_examples=40, deadline=None)
@given(chain=st.lists(upsampling_strategy, min_size=1, max_size=4), data=st.data())
def test_carried_interval_is_the_gradient_support(
    chain: list[tuple[str, int, int, int]], data: st.DataObject
) -> None:
    pytest.importorskip("torch")
    parts = []
    for kind, a, b, c in chain:
        if kind == "convT":
            parts.append(f"convT(2, k={a}, s={b}, p={min(c, a - 1)})")
        elif kind == "adaptive":
            parts.append(f"adaptiveavgpool(({a}, {b}))")
        else:
            parts.append(f"conv(2, k={a}, s={b}, p={c})")
    trace, support = _trace_and_support_of_any_cell(" > ".join(parts), (1, 2, 9, 8), data)
    if trace.rows is None or trace.cols is None:
        assert support == [None, None]
    else:
        assert support == [trace.rows, trace.cols]


# -- the command ------------------------------------------------------------------------------


def test_json_has_exactly_the_issue_keys() -> None:
    spec = "conv(4, k=3, p=1) > residual(conv(4, k=3, p=1) > relu) > flatten > linear(2)"
    payload = json_of(invoke("net", spec, "--input-shape", "1x1x6x6", "--json"))
    assert set(payload) == {"input_shape", "output_shape", "bias_default", "layers", "total"}
    keys = {"index", "level", "layer", "output_shape", "params", "params_percent", "macs",
            "flops", "receptive_field", "jump", "start"}  # fmt: skip
    assert set(payload["layers"][0]) == keys
    assert set(payload["layers"][1]) == keys | {"layers", "shortcut"}
    assert [entry["index"] for entry in payload["layers"][1]["layers"]] == [1, 2]
    assert [entry["level"] for entry in payload["layers"][1]["layers"]] == [2, 2]
    assert payload["layers"][0]["receptive_field"] == [3, 3]
    assert payload["layers"][1]["receptive_field"] == [5, 5]
    assert payload["layers"][3]["receptive_field"] is None
    assert {"params", "macs", "flops"} <= set(payload["total"])
    assert payload["output_shape"] == [1, 2]


def test_dtype_changes_the_memory_totals_only() -> None:
    args = ["net", "--preset", "lenet", "--json"]
    single = json_of(invoke(*args))["total"]
    double = json_of(invoke(*args, "--dtype", "float64"))["total"]
    assert double["param_bytes"] == 2 * single["param_bytes"] == 2 * 4 * single["params"]
    assert double["activation_bytes"] == 2 * single["activation_bytes"]
    assert double["macs"] == single["macs"]


def test_at_traces_one_cell_after_a_transposed_convolution() -> None:
    spec = "convT(2, k=3, s=2) > conv(1, k=3)"
    result = invoke("net", spec, "--input-shape", "1x1x4x4", "--at", "2,0")
    assert result.exit_code == 0, result.output
    assert "output cell (2, 0) of layer 2: input rows 0..2, columns 0..1" in result.stdout
    payload = json_of(invoke("net", spec, "--input-shape", "1x1x4x4", "--at", "1:0,0", "--json"))
    assert payload["at"] == {
        "layer": 1, "cell": [0, 0], "input_rows": [0, 0], "input_cols": [0, 0],
        "input_row_cells": [0], "input_col_cells": [0],
    }  # fmt: skip
    assert payload["layers"][0]["receptive_field"] is None


def test_a_layer_that_does_not_fit_prints_the_rows_before_it() -> None:
    result = invoke("net", "conv(16, k=5) > maxpool(2) > conv(8, k=7)", "--input-shape", "3x12x12")
    assert result.exit_code == 2
    assert "maxpool(2)" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "convcli: error: layer 3 conv(8, k=7): input 4x4 is smaller than the 7x7 window"
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--preset", "lenet", "relu"], "one of them"),
        ([], "one of them"),
        (["relu"], "--input-shape"),
        (["--preset", "resnet50"], "--preset: expected one of"),
        (["--preset", "lenet", "--dtype", "int3"], "--dtype"),
        (["--preset", "lenet", "--emit", "onnx"], "--emit"),
        (["--preset", "lenet", "--at", "1,2,3"], "--at"),
        (["--preset", "lenet", "--at", "99:0,0"], "no layer 99"),
        (["--preset", "lenet", "--at", "8:0,0"], "no spatial output"),
        (["relu", "--input-shape", "1x0x3"], "--input-shape"),
        (["@/nonexistent/arch.txt", "--input-shape", "1x1x4x4"], "arch.txt: no such file"),
    ],
)
def test_command_refusals(args: list[str], words: str) -> None:
    assert_usage_error(invoke("net", *args), words)


def test_the_printed_model_sample_reads() -> None:
    payload = json_of(
        invoke("net", f"@{SAMPLES / 'printed_model.txt'}", "--input-shape", "1x3x32x32", "--json")
    )
    assert payload["output_shape"] == [1, 10]
    assert payload["total"]["params"] == 448 + 32 + 1024 * 10 + 10


def test_presets_default_to_the_books_input_shapes() -> None:
    for name, preset in PRESETS.items():
        payload = json_of(invoke("net", "--preset", name, "--json"))
        assert payload["input_shape"] == list(preset.input_shape)
        # d2l's ten classes; torchvision's MobileNetV2 its 1000; the UNet a one-channel map.
        wanted = {"mobilenet_v2": [1, 1000], "unet": [1, 1, 256, 256]}.get(name, [1, 10])
        assert payload["output_shape"] == wanted
        assert json.dumps(payload)


# -- hostile specs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "conv(6, k=3, padding_mode='\x1b[31m')",
        "conv(6,\x1b k=3)",
        "relu > \x07",
        "foo\x1b[2J",
    ],
)
def test_control_characters_in_a_spec_are_escaped_in_the_error(spec: str) -> None:
    result = invoke("net", spec, "--input-shape", "1x1x8x8")
    assert_usage_error(result, "spec column")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


@pytest.mark.parametrize(
    "spec",
    [
        "(" * 500 + "relu" + ")" * 500,
        "-" * 100_000 + "1",
        "residual(" * 300 + "relu" + ")" * 300,
        "relu > " * 40_000 + "relu",
        "conv(" + "9" * 5000 + ", k=3)",
    ],
)
def test_huge_or_deep_specs_are_refused_or_read_quickly(spec: str) -> None:
    result = invoke("net", spec, "--input-shape", "1x1x8x8", "--json")
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert_usage_error(result)


def test_huge_sizes_stay_arithmetic() -> None:
    net = walk_network(parse_spec("adaptiveavgpool((1000000000, 3))"), (1, 1, 7, 7))
    assert net.rows[0].output_shape == (1, 1, 10**9, 3)
    trace = trace_cell(net, (10**9 - 1, 1))
    assert trace.rows == (6, 6) and trace.cols == (2, 4)
    net = walk_network(parse_spec("convT(1, k=100000, d=3)"), (1, 1, 2, 2))
    assert trace_cell(net, (150_000, 0)).rows == (0, 1)
    net = walk_network(parse_spec("conv(1, k=1000000000000)"), (1, 1, 4, 4))
    assert "smaller than the 1000000000000x1000000000000 window" in str(net.error)


@pytest.mark.parametrize(("n_in", "n_out"), [(5, 3), (7, 7), (7, 1), (3, 8), (12, 5), (1, 4)])
def test_adaptive_cells_closed_form_matches_the_windows(n_in: int, n_out: int) -> None:
    from convcli.shapes.pooling import adaptive_window

    net = walk_network(parse_spec(f"adaptiveavgpool(({n_out}, 1))"), (1, 1, n_in, 1))
    windows = [adaptive_window(i, n_in, n_out) for i in range(n_out)]
    # window - 1 additions per output value
    assert net.rows[0].flops == sum(end - start - 1 for start, end in windows)


def test_without_at_a_nonuniform_network_traces_its_centre_cell() -> None:
    result = invoke("net", "convT(2, k=3, s=2) > relu", "--input-shape", "1x1x4x4")
    assert result.exit_code == 0, result.output
    assert "output cell (4, 4) of layer 2: input rows 1..2, columns 1..2" in result.stdout


@pytest.mark.torch
def test_print_of_nested_lazy_modules_reads_like_the_initialised_model() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    def block(channels: int) -> Any:
        return nn.Sequential(nn.LazyConv2d(channels, kernel_size=3, padding=1), nn.ReLU())

    model = nn.Sequential(
        block(4), nn.LazyBatchNorm2d(), block(8), nn.MaxPool2d(2), nn.Flatten(), nn.LazyLinear(3)
    )
    printed_lazy = str(model)  # input sizes not known yet: print(model) writes 0
    model(torch.zeros(2, 3, 6, 6))
    for text in (printed_lazy, str(model)):
        net = walk_network(parse_spec(text), (2, 3, 6, 6))
        assert net.error is None
        assert net.params == sum(p.numel() for p in model.parameters())
        assert net.output_shape == (2, 3)


@pytest.mark.torch
@settings(max_examples=30, deadline=None)
@given(
    main=st.tuples(st.integers(1, 4), st.integers(1, 2)),
    skip=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    stride=st.integers(1, 2),
    before=st.tuples(st.integers(1, 3), st.integers(1, 2)),
)
def test_a_residual_field_is_the_union_of_its_paths(
    main: tuple[int, int],
    skip: tuple[int, int],
    stride: int,
    before: tuple[int, int],
) -> None:
    pytest.importorskip("torch")
    k, d = main
    # A shortcut whose output has the main path's size: equal 2p - d(k-1) on both paths.
    k_skip = 1 + 2 * skip[0] + (d * (k - 1)) % 2
    # The shortcut's padding is raised until the main path's is not negative (built, not
    # filtered: a filter rejected too many draws for hypothesis's health check).
    p_skip = skip[1] + max(0, -((d * (k - 1) - (k_skip - 1)) // 2))
    p_main = (2 * p_skip - (k_skip - 1) + d * (k - 1)) // 2
    assert p_main >= 0
    spec = (
        f"conv(2, k={before[0]}, s={before[1]}) > "
        f"residual(conv(2, k={k}, p={p_main}, d={d}, s={stride}) > relu, "
        f"shortcut=conv(2, k={k_skip}, p={p_skip}, s={stride}))"
    )
    net = walk_network(parse_spec(spec), (1, 2, 40, 40))
    assert net.error is None, net.error
    block = net.rows[-1]
    field = block.fields[0]
    assert field is not None
    cell = ((block.output_shape[2] - 1) // 2, (block.output_shape[3] - 1) // 2)
    first = field.start + cell[0] * field.jump - (field.size - 1) / 2
    assert first >= 0 and first + field.size - 1 <= 39
    support = gradient_support(net, cell, len(net.rows))
    assert support[0] == (int(first), int(first + field.size - 1))


NET_CASES = {
    "lenet": ("--preset", "lenet"),
    "resnet18": ("--preset", "resnet18"),
    "residual": (
        "conv(8, k=3, p=1) > residual(conv(16, k=3, s=2, p=1) > bn > relu > conv(16, k=3, p=1)"
        " > bn, shortcut=conv(16, k=1, s=2) > bn) > relu > gap > flatten > linear(10)",
        "--input-shape",
        "1x3x32x32",
    ),
    "transposed": ("convT(8, k=4, s=2, p=1) > conv(1, k=3)", "--input-shape", "1x16x8x8"),
    "printed": (f"@{SAMPLES / 'printed_model.txt'}", "--input-shape", "1x3x32x32"),
}
# A whole number, K/M/G/T count or shape ("1x16x10x10", "4.5", "48.1K", "-0.5x1.5").
NUMERIC = re.compile(r"-?\d+(\.\d+)?(x-?\d+(\.\d+)?)*[KMGT]?")
INDEX = re.compile(r"\d+(\.\d+)*")


def _table_part(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[: lines.index("total")]


def _numeric_tokens(lines: list[str]) -> list[str]:
    """Every number or shape printed, each layer's index (the first word of its line) left out."""
    tokens: list[str] = []
    for line in lines:
        words = line.split()
        if words and INDEX.fullmatch(words[0]):
            words = words[1:]
        tokens += [word for word in words if NUMERIC.fullmatch(word)]
    return tokens


def _shapes_in_order(layers: list[dict[str, Any]]) -> list[str]:
    shapes: list[str] = []
    for layer in layers:
        shapes.append("x".join(map(str, layer["output_shape"])))
        shapes += _shapes_in_order(layer.get("layers", []))
        shapes += _shapes_in_order(layer.get("shortcut", []))
    return shapes


@pytest.mark.parametrize("name", sorted(NET_CASES))
def test_no_net_table_cuts_a_number(name: str) -> None:
    """At 40, 60, 80 and 200 columns every number and shape is printed whole (issue 10's rule).

    Whatever the layout (one table, the fields in a second table, one layer per few lines),
    the numbers printed are the ones the 200-column table prints, and the output shapes
    are every layer's, whole, in order.
    """
    from rich.cells import cell_len

    args = NET_CASES[name]
    payload = json_of(invoke("net", *args, "--json"))
    shapes = ["x".join(map(str, payload["input_shape"])), *_shapes_in_order(payload["layers"])]
    tokens: dict[int, list[str]] = {}
    for width in (200, 80, 60, 40):
        result = invoke(
            "net", *args, "--depth", "all", env={"COLUMNS": str(width), "NO_COLOR": "1"}
        )
        assert result.exit_code == 0, result.output
        assert "…" not in result.stdout
        for line in result.stdout.splitlines():
            assert cell_len(line) <= width, (width, line)
        lines = _table_part(result.stdout)
        tokens[width] = _numeric_tokens(lines)
        assert sorted(tokens[width]) == sorted(tokens[200]), width
        printed_shapes = [t for t in tokens[width] if "x" in t and t in shapes]
        assert printed_shapes == shapes, width
    # At 200 columns it is one table, one line per layer.
    assert len(_table_part(invoke("net", *args, env={"COLUMNS": "200"}).stdout)) >= len(shapes) + 2


def test_spec_files_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"conv(6, k=5) # caf\xe9\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing but a comment\n", encoding="utf-8")
    for spec, words in (
        (f"@{latin}", "not UTF-8"),
        (f"@{tmp_path}", "is a folder"),
        (f"@{empty}", "no layers"),
    ):
        assert_usage_error(invoke("net", spec, "--input-shape", "1x1x8x8"), words)


def _json_rows(
    layers: list[dict[str, Any]], prefix: str = "", depth: int | None = None
) -> list[str]:
    """The rows a table prints for ``layers``: each layer's index, a block's layers under it
    (its shortcut's as ``9.s1``) and one ``+`` line for its shortcut or identity path."""
    rows: list[str] = []
    for layer in layers:
        label = f"{prefix}{layer['index']}"
        rows.append(label)
        if "layers" in layer and (depth is None or layer["level"] < depth):
            rows += _json_rows(layer["layers"], f"{label}.", depth)
            rows.append("+")
            rows += _json_rows(layer["shortcut"], f"{label}.s", depth)
    return rows


def _printed_rows(text: str) -> list[list[str]]:
    """The rows of each table (or the stacked list) printed before the totals."""
    tables: list[list[str]] = [[]]
    for line in text.split("\ntotal\n")[0].splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "#" and tables[-1]:
            tables.append([])
        if INDEX.fullmatch(words[0]) or re.fullmatch(r"\d+(\.s?\d+)+", words[0]):
            tables[-1].append(words[0])
        elif words[0] == "+":
            tables[-1].append("+")
    return tables


@pytest.mark.parametrize(
    ("name", "widths"),
    [("resnet18", range(40, 241)), ("residual", range(40, 241, 7)), ("lenet", range(40, 241, 20))],
)
def test_every_width_prints_every_json_layer(name: str, widths: range) -> None:
    """Issue 19 defect 1: at every width from 40 to 240 each table (the costs, the fields
    under them, or the stacked list) prints the rows of the --json layers, ``+ identity``
    and ``+ shortcut`` lines included; without --depth a terminal too narrow for one
    line per layer folds each block into one row and says so."""
    args = NET_CASES[name]
    payload = json_of(invoke("net", *args, "--json"))
    every = _json_rows(payload["layers"])
    top = _json_rows(payload["layers"], depth=1)
    folded_at = []
    for width in widths:
        env = {"COLUMNS": str(width), "NO_COLOR": "1"}
        unfolded = invoke("net", *args, "--depth", "all", env=env)
        assert unfolded.exit_code == 0, unfolded.output
        for table in _printed_rows(unfolded.stdout):
            assert table == every, width
        default = invoke("net", *args, env=env).stdout
        folded = "--depth all unfolds them" in " ".join(default.split())
        for table in _printed_rows(default.split("Blocks folded")[0]):
            assert table == (top if folded else every), width
        if folded:
            folded_at.append(width)
    if every != top:
        # Folded exactly where one line per layer does not fit.
        assert folded_at and min(folded_at) == widths[0]
        assert max(folded_at) < widths[-1]
    else:
        assert not folded_at


def test_depth_folds_blocks_into_their_sums() -> None:
    spec = (
        "conv(4, k=3, p=1) > residual(conv(4, k=3, p=1) > relu > "
        "residual(conv(4, k=3, p=1) > bn)) > flatten > linear(2)"
    )
    args = ("net", spec, "--input-shape", "1x1x6x6")
    payload = json_of(invoke(*args, "--json"))
    block = payload["layers"][1]
    inner = block["layers"][2]
    assert (block["level"], inner["level"], inner["layers"][0]["level"]) == (1, 2, 3)
    for depth, shown in (
        (1, ["1", "2", "3", "4"]),
        (2, ["1", "2", "2.1", "2.2", "2.3", "+", "3", "4"]),
    ):
        result = invoke(*args, "--depth", str(depth), env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert _printed_rows(result.stdout) == [shown]
        assert json_of(invoke(*args, "--depth", str(depth), "--json"))["depth"] == depth
    folded = invoke(*args, "--depth", "1", env={"COLUMNS": "200", "NO_COLOR": "1"}).stdout
    row = next(line for line in folded.splitlines() if line.split()[:1] == ["2"])
    # The folded row: how many layers it stands for, the block's output shape, its sums.
    count = len(_json_rows(block["layers"])) - 1  # the inner block's "+ identity" line
    assert count == 5 and f"residual ({count} layers)" in row
    assert "1x4x6x6" in row and str(block["params"]) in row
    assert block["params"] == sum(layer["params"] for layer in block["layers"])
    assert_usage_error(invoke(*args, "--depth", "0"), "--depth")
    assert_usage_error(invoke(*args, "--depth", "x"), "--depth")


def test_dropout_p_is_dropouts_probability_not_padding() -> None:
    """``p`` is short for ``padding`` only where the layer has no ``p`` of its own."""
    from convcli.shapes.netspec import parse_spec

    dropout, conv = parse_spec("dropout(p=0.25) > conv(2, k=3, p=1)")
    assert dropout.args["p"] == 0.25 and conv.args["padding"] == 1


def _json_percent_order(layers: list[dict[str, Any]]) -> list[int]:
    """Each layer's params in the order a table prints it: a block, its layers, its shortcut,
    a join's branches one after the other."""
    params: list[int] = []
    for layer in layers:
        params.append(layer["params"])
        params += _json_percent_order(layer.get("layers", []))
        params += _json_percent_order(layer.get("shortcut", []))
        for branch in layer.get("branches", []):
            params += _json_percent_order(branch)
    return params


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "lenet"])
def test_params_percent_column_is_each_layers_share(name: str) -> None:
    """Issue 21: the table says each layer's share of the params, as torchinfo's ``Param %``
    (two decimals, ``<0.01%`` for a share too small for them, ``-`` for no params); where the
    table does not fit, that column goes first and every row is still one line."""
    from rich.cells import cell_len

    args = ("net", "--preset", name, "--depth", "all")
    payload = json_of(invoke(*args, "--json"))
    total = payload["total"]["params"]
    expected = []
    for params in _json_percent_order(payload["layers"]):
        if params:
            share = 100 * params / total
            expected.append("<0.01%" if share < 0.005 else f"{share:.2f}%")
    wide = invoke(*args, env={"COLUMNS": "240", "NO_COLOR": "1"}).stdout
    table = _table_part(wide)
    assert table[0].split()[4:6] == ["params", "%"]
    printed = [word for line in table[2:] for word in line.split() if word.endswith("%")]
    assert printed == expected
    # The narrowest terminal that shows the column; one column less and it is gone, the
    # layer rows unchanged (one line each, nothing wrapped).
    widest = max(cell_len(line) for line in table)
    rows = len(_printed_rows(wide)[0])
    narrower = invoke(*args, env={"COLUMNS": str(widest - 1), "NO_COLOR": "1"}).stdout
    assert "params %" not in narrower and "%" not in "".join(_table_part(narrower))
    assert len(_table_part(narrower)) == len(table) and len(_printed_rows(narrower)) == 1
    assert len(_printed_rows(narrower)[0]) == rows
    assert "params %" in invoke(*args, env={"COLUMNS": str(widest), "NO_COLOR": "1"}).stdout


def test_params_percent_heading_in_chinese() -> None:
    result = invoke(
        "net", "--preset", "lenet", "--lang", "zh", env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0
    assert "参数量 %" in result.stdout and re.search(r"\d\.\d\d%", result.stdout)


def test_no_params_no_percent_column() -> None:
    result = invoke("net", "maxpool(2) > relu", "--input-shape", "1x1x8x8", env={"COLUMNS": "200"})
    assert "%" not in "".join(_table_part(result.stdout))


def test_a_layer_written_without_spaces_is_folded_never_cut() -> None:
    """An indented branch layer with no space to wrap at (``maxpool(3,s=1,p=1)``) was cut to
    ``maxpool(3,s=1,p…`` at 60 columns: it is folded inside the word instead."""
    from rich.cells import cell_len

    spec = "conv(16,k=3,p=1) > se(4) > concat(identity | maxpool(3,s=1,p=1) > conv(8,k=1))"
    for width in range(40, 101, 4):
        env = {"COLUMNS": str(width), "NO_COLOR": "1"}
        result = invoke("net", spec, "--input-shape", "1x3x16x16", "--depth", "all", env=env)
        assert result.exit_code == 0 and "…" not in result.stdout, width
        assert all(cell_len(line) <= width for line in result.stdout.splitlines()), width
        text = "".join(result.stdout.split())
        assert "maxpool(3,s=1,p=1)" in text, width
