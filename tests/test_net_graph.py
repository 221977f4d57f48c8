"""`convcli net`'s joins: concat, add, mul, chunk, shuffle, se, repeat, and the new layers.

PyTorch is the oracle: every construct is built by ``--emit torch`` and run, and its
shapes, parameters, buffers and MACs are compared; receptive fields are compared with the
support of the gradient (which input cells an output cell depends on).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of
from hypothesis import given, settings
from hypothesis import strategies as st
from test_net import assert_matches_torch, torch_network

from convcli.errors import OptionError
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import Network, trace_cell, walk_network

DENSE_BLOCK = "repeat(4, concat(identity | bn > relu > conv(32, k=3, p=1)))"
INCEPTION = (
    "concat(conv(64, k=1) > relu | conv(96, k=1) > relu > conv(128, k=3, p=1) > relu | "
    "conv(16, k=1) > relu > conv(32, k=5, p=2) > relu | "
    "maxpool(3, s=1, p=1) > conv(32, k=1) > relu)"
)

JOINS = [
    (DENSE_BLOCK, (1, 64, 8, 8)),
    (INCEPTION, (1, 192, 12, 12)),
    ("se(8) > conv(16, k=3, p=1)", (2, 32, 7, 7)),
    ("se(4, act='silu', gate='hardsigmoid')", (1, 16, 5, 6)),
    ("chunk(2, identity | conv(8, k=1) > bn > relu > conv(8, k=3, p=1, g=8)) > shuffle(2)",
     (1, 16, 9, 9)),
    ("add(conv(8, k=3, p=1) | conv(8, k=1) | identity)", (1, 8, 6, 6)),
    ("mul(identity | gap > conv(8, k=1) > sigmoid)", (1, 8, 6, 5)),
    ("mul(identity | adaptiveavgpool((1, 5)))", (1, 3, 4, 5)),
    ("concat(conv(4, k=3, s=2, p=1) | avgpool(2, s=2, ceil_mode=True))", (1, 3, 7, 7)),
    ("concat(identity | maxpool(2) > conv(8, k=3, p=1) > convT(8, k=2, s=2)) > conv(4, k=1)",
     (1, 8, 8, 8)),
    ("repeat(2, residual(conv(4, k=3, p=1) > relu6)) > hardswish > mish > elu(0.5)",
     (1, 4, 5, 5)),
    ("zeropad((1, 2, 0, 3)) > upsample(scale_factor=2) > groupnorm(2) > layernorm2d > prelu(4)",
     (1, 4, 3, 5)),
    ("upsample(size=(7, 5), mode='bilinear') > instancenorm > dropout2d(0.2)", (1, 2, 3, 4)),
    ("upsample(scale_factor=3, mode='bilinear', align_corners=True) > softmax", (1, 2, 3, 4)),
    ("gap > flatten > layernorm(6) > linear(3) > softmax(dim=-1)", (2, 6, 3, 3)),
    ("Conv2d(3, 8, kernel_size=(3, 3), padding=same, padding_mode=reflect) > ReLU6() > "
     "GroupNorm(4, 8, eps=1e-05, affine=True) > Hardswish() > ZeroPad2d((1, 1, 1, 1)) > "
     "Upsample(scale_factor=2.0, mode='nearest') > InstanceNorm2d(8, eps=1e-05, momentum=0.1, "
     "affine=True, track_running_stats=True) > ChannelShuffle(groups=2) > PReLU(num_parameters=8)",
     (1, 3, 5, 5)),
]  # fmt: skip


def walked(spec: str, shape: tuple[int, ...]) -> Network:
    return walk_network(parse_spec(spec), shape)


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "shape"), JOINS)
def test_joins_and_layers_match_torch(spec: str, shape: tuple[int, ...]) -> None:
    pytest.importorskip("torch")
    assert_matches_torch(walked(spec, shape))


def gradient_support(module: Any, shape: tuple[int, ...], cell: tuple[int, int], upto: int) -> Any:
    """The input rows and columns output cell ``cell`` of layer ``upto`` depends on."""
    import torch

    module = module.double().eval()
    torch.manual_seed(0)
    for parameter in module.parameters():
        parameter.data.uniform_(0.5, 1.5)  # no weight is zero: nothing cancels
    x = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    out = x
    for layer in list(module)[:upto]:
        out = layer(out)
    out[:, :, cell[0], cell[1]].sum().backward()  # type: ignore[no-untyped-call]
    assert x.grad is not None
    reached = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = {int(i) for i in reached.any(dim=1).nonzero().flatten()}
    cols = {int(j) for j in reached.any(dim=0).nonzero().flatten()}
    return rows, cols


FIELDS = [
    ("concat(conv(2, k=3) | conv(2, k=5, p=1)) > avgpool(2)", (1, 1, 12, 12)),
    ("concat(identity | conv(2, k=3, s=2, p=1) > convT(2, k=2, s=2)) > conv(1, k=3)",
     (1, 1, 10, 10)),
    ("add(conv(2, k=3, d=2, p=2) | conv(2, k=1)) > sigmoid > conv(1, k=3, s=2)", (1, 2, 11, 9)),
    ("mul(identity | gap > conv(2, k=1) > sigmoid) > conv(1, k=3)", (1, 2, 9, 9)),
    ("se(2) > conv(1, k=1)", (1, 4, 7, 7)),
    ("chunk(2, conv(1, k=3, p=1) | avgpool(3, s=1, p=1)) > shuffle(2) > conv(1, k=3)",
     (1, 2, 10, 10)),
    ("zeropad((2, 0, 1, 1)) > conv(1, k=3, s=2) > upsample(scale_factor=2) > conv(1, k=3)",
     (1, 1, 9, 9)),
    ("upsample(scale_factor=2, mode='bilinear') > conv(1, k=3)", (1, 1, 5, 6)),
    ("upsample(size=(9, 7), mode='bilinear', align_corners=True) > tanh", (1, 1, 4, 5)),
]  # fmt: skip


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "shape"), FIELDS)
def test_fields_through_joins_are_the_gradient_support(spec: str, shape: tuple[int, ...]) -> None:
    pytest.importorskip("torch")
    net = walked(spec, shape)
    module = torch_network(net)
    last = len(net.rows)
    height, width = net.output_shape[2], net.output_shape[3]
    for cell in {(0, 0), (height // 2, width // 2), (height - 1, width - 1), (1, width - 2)}:
        if not (0 <= cell[0] < height and 0 <= cell[1] < width):
            continue
        trace = trace_cell(net, cell)
        rows, cols = gradient_support(module, shape, cell, last)
        assert (set(trace.row_cells), set(trace.col_cells)) == (rows, cols), cell
        first, second = net.rows[-1].fields
        if first is not None and second is not None and not first.whole:
            # A uniform field holds every cell the output cell depends on.
            for field, index, reached in ((first, cell[0], rows), (second, cell[1], cols)):
                low = field.first + index * field.jump
                assert low <= min(reached) and max(reached) <= low + field.size - 1


def test_a_global_branch_makes_the_field_global() -> None:
    net = walked("se(2) > conv(4, k=3)", (1, 4, 9, 9))
    assert all(field is not None and field.whole for field in net.rows[0].fields)
    result = invoke("net", "se(2) > conv(4, k=3)", "--input-shape", "1x4x9x9", "--json")
    layers = json_of(result)["layers"]
    assert layers[0]["global_field"] is True and layers[0]["receptive_field"] is None
    assert layers[1]["global_field"] is True
    assert [len(branch) for branch in layers[0]["branches"]] == [0, 5]
    table = invoke("net", "se(2) > conv(4, k=3)", "--input-shape", "1x4x9x9").stdout
    assert " all " in table


def test_branches_whose_jumps_differ_have_no_one_field() -> None:
    net = walked("concat(conv(2, k=3, s=2, p=1) | avgpool(2, s=2)) > conv(1, k=3)", (1, 1, 8, 8))
    assert net.rows[0].fields[0] is not None  # both jumps are 2
    net = walked("add(conv(2, k=3, s=2, p=1) | conv(2, k=2, s=2)) > conv(1, k=3)", (1, 1, 8, 8))
    assert net.rows[0].fields[0] is not None
    # Strides that agree give a union; a broadcast changes that (above); jumps that differ
    # cannot arise at the same output size without transposed layers.
    net = walked("concat(identity | conv(1, k=3, s=2, p=1) > convT(1, k=2, s=2))", (1, 1, 8, 8))
    assert net.rows[0].fields == (None, None)


@pytest.mark.parametrize(
    ("spec", "shape", "words"),
    [
        ("concat(conv(8, k=3) | conv(8, k=1))", "1x4x8x8",
         "branch 2 gives 1x8x8x8, branch 1 1x8x6x6: only the channels may differ"),
        ("chunk(3, identity | identity | identity)", "1x8x4x4", "does not divide the 8 channels"),
        ("mul(identity | gap > conv(3, k=1))", "1x8x4x4",
         "branch 2 gives 1x3x1x1, which does not broadcast"),
        ("add(identity | conv(4, k=3))", "1x4x6x6", "branch 2 gives 1x4x4x4"),
        ("concat(identity | relu > conv(4, k=9))", "1x4x6x6", "layer 1.b2 conv(4, k=9)"),
        ("shuffle(3)", "1x8x4x4", "groups=3 does not divide the 8 channels"),
        ("shuffle(2)", "4x8", "more than 2 axes (N, C, ...), got 4x8"),
        ("groupnorm(3)", "1x8x4x4", "num_groups=3 does not divide"),
        ("upsample()", "1x8x4x4", "one of size and scale_factor"),
        ("layernorm(5)", "1x8x4x4", "not the last axes"),
    ],
)  # fmt: skip
def test_a_bad_graph_is_one_line_naming_the_branch(spec: str, shape: str, words: str) -> None:
    result = invoke("net", spec, "--input-shape", shape)
    assert_usage_error(result, words)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("conv(3, k=1) > relu | sigmoid", "'|' separates the branches"),
        ("chunk(2, identity)", "needs 2 branches, got 1"),
        ("concat", "concat needs its branches"),
        ("repeat(0, relu)", "n must be an int from 1"),
        ("se(4, act='swish')", "act must be one of"),
        ("se(act='relu')", "se needs squeeze"),
        ("zeropad((1, 2))", "padding must be an int >= 0 or a 4-tuple"),
        ("upsample(scale_factor=2, mode='bicubic')", "mode must be 'nearest' or 'bilinear'"),
    ],
)
def test_bad_join_text_names_its_column(spec: str, words: str) -> None:
    with pytest.raises(OptionError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(spec)


def test_repeat_and_the_dense_block_read_as_the_issue_writes_them() -> None:
    layers = parse_spec(f"conv(64, k=3) > {DENSE_BLOCK} > relu")
    assert [layer.kind for layer in layers] == [
        "conv",
        "concat",
        "concat",
        "concat",
        "concat",
        "relu",
    ]
    assert layers[1].branches[0] == () and [x.kind for x in layers[1].branches[1]] == [
        "bn", "relu", "conv"
    ]  # fmt: skip
    net = walked(DENSE_BLOCK, (1, 64, 8, 8))
    assert [row.output_shape[1] for row in net.rows] == [96, 128, 160, 192]


def test_repeat_stands_in_a_branch_too() -> None:
    (join,) = parse_spec("concat(repeat(2, relu) | identity)")
    assert [[layer.kind for layer in branch] for branch in join.branches] == [["relu", "relu"], []]


def test_torch_print_of_new_layers_reads_back() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect", bias=False),
        nn.GroupNorm(2, 8),
        nn.ReLU6(inplace=True),
        nn.Hardswish(),
        nn.ZeroPad2d((1, 0, 2, 1)),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.InstanceNorm2d(8, affine=True),
        nn.Dropout2d(0.1),
        nn.PReLU(8),
        nn.ChannelShuffle(2),
        nn.Mish(),
        nn.ELU(alpha=0.5),
        nn.Hardsigmoid(),
        nn.Flatten(),
        nn.LayerNorm(8 * 18 * 16),
        nn.Softmax(dim=1),
    )
    net = walked(str(model), (1, 3, 6, 7))
    assert net.error is None, net.error
    assert net.params == sum(p.numel() for p in model.parameters())
    assert net.buffers == sum(b.numel() for b in model.buffers())
    assert net.output_shape == tuple(model.eval()(torch.zeros(1, 3, 6, 7)).shape)


# Random graphs of joins, chunks and shuffles: each piece keeps the spatial size.
def _piece(channels: int) -> st.SearchStrategy[tuple[str, int]]:
    convs = st.sampled_from([(1, 0), (3, 1), (5, 2)]).map(
        lambda kp: (f"conv({channels}, k={kp[0]}, p={kp[1]})", channels)
    )
    pools = st.just((f"avgpool(3, s=1, p=1) > conv({channels}, k=1)", channels))
    plain = st.one_of(convs, pools, st.just(("identity", channels)))
    return st.one_of(
        plain,
        st.tuples(plain, plain).map(lambda ab: (f"concat({ab[0][0]} | {ab[1][0]})", 2 * channels)),
        st.tuples(plain, plain).map(lambda ab: (f"add({ab[0][0]} | {ab[1][0]})", channels)),
        st.just((f"mul(identity | gap > conv({channels}, k=1) > sigmoid)", channels)),
        st.just((f"se({max(channels // 2, 1)})", channels)),
        st.just(("shuffle(2)", channels)),
        st.just((f"chunk(2, identity | conv({channels // 2}, k=3, p=1))", channels)),
    )


@st.composite
def random_graph(draw: st.DrawFn) -> str:
    channels = 4
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        text, out = draw(_piece(channels))
        parts.append(text)
        if out != channels:
            parts.append(f"conv({channels}, k=1)")
    return " > ".join(parts)


@pytest.mark.torch
@settings(max_examples=15, deadline=None)
@given(random_graph())
def test_random_graphs_go_through_emit_torch_and_back(spec: str) -> None:
    pytest.importorskip("torch")
    net = walked(spec, (1, 4, 6, 6))
    assert_matches_torch(net)
    # And back: the emitted modules, printed by torch, have the same count when read
    # as branches cannot be printed; the spec read again gives the same rows.
    again = walked(spec, (1, 4, 6, 6))
    assert again == net


# -- presets against torch models written here from their definitions -------------------------


def _torch_models() -> dict[str, Any]:
    """GoogLeNet (d2l 8.4), DenseNet (d2l 8.7), MobileNetV2 (torchvision), a UNet: written
    independently of convcli's specs, from the papers' and libraries' descriptions."""
    import torch
    from torch import nn

    class Paths(nn.Module):
        def __init__(self, *paths: nn.Module) -> None:
            super().__init__()
            self.paths = nn.ModuleList(paths)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([path(x) for path in self.paths], dim=1)

    def inception(c_in: int, c1: int, c2: Any, c3: Any, c4: int) -> nn.Module:
        return Paths(
            nn.Sequential(nn.Conv2d(c_in, c1, 1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(c_in, c2[0], 1), nn.ReLU(),
                          nn.Conv2d(c2[0], c2[1], 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(c_in, c3[0], 1), nn.ReLU(),
                          nn.Conv2d(c3[0], c3[1], 5, padding=2), nn.ReLU()),
            nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c_in, c4, 1), nn.ReLU()),
        )  # fmt: skip

    pool = nn.MaxPool2d(3, 2, 1)
    googlenet = nn.Sequential(
        nn.Conv2d(1, 64, 7, 2, 3), nn.ReLU(), pool,
        nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), pool,
        inception(192, 64, (96, 128), (16, 32), 32),
        inception(256, 128, (128, 192), (32, 96), 64), pool,
        inception(480, 192, (96, 208), (16, 48), 64),
        inception(512, 160, (112, 224), (24, 64), 64),
        inception(512, 128, (128, 256), (24, 64), 64),
        inception(512, 112, (144, 288), (32, 64), 64),
        inception(528, 256, (160, 320), (32, 128), 128), pool,
        inception(832, 256, (160, 320), (32, 128), 128),
        inception(832, 384, (192, 384), (48, 128), 128),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 10),
    )  # fmt: skip

    class Dense(nn.Module):
        def __init__(self, convs: int, c_in: int, growth: int) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.BatchNorm2d(c_in + i * growth), nn.ReLU(),
                              nn.Conv2d(c_in + i * growth, growth, 3, padding=1))
                for i in range(convs)
            )  # fmt: skip

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.blocks:
                x = torch.cat((x, block(x)), dim=1)
            return x

    dense: list[nn.Module] = [
        nn.Conv2d(1, 64, 7, 2, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
    ]  # fmt: skip
    c = 64
    for i in range(4):
        dense.append(Dense(4, c, 32))
        c += 4 * 32
        if i != 3:
            dense += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1), nn.AvgPool2d(2, 2)]
            c //= 2
    dense += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    densenet = nn.Sequential(*dense)

    def cbr(c_in: int, c_out: int, k: int = 1, s: int = 1, g: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, k, s, (k - 1) // 2, groups=g, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU6()]  # fmt: skip

    class Inverted(nn.Module):
        def __init__(self, inp: int, oup: int, stride: int, t: int) -> None:
            super().__init__()
            hidden = inp * t
            layers = [] if t == 1 else cbr(inp, hidden)
            layers += [*cbr(hidden, hidden, 3, stride, hidden),
                       nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]  # fmt: skip
            self.conv = nn.Sequential(*layers)
            self.skip = stride == 1 and inp == oup

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.conv(x)
            return x + out if self.skip else out

    mobile: list[nn.Module] = cbr(3, 32, 3, 2)
    inp = 32
    for t, ch, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                        (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):  # fmt: skip
        for i in range(n):
            mobile.append(Inverted(inp, ch, s if i == 0 else 1, t))
            inp = ch
    mobile += [*cbr(320, 1280), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
               nn.Linear(1280, 1000)]  # fmt: skip
    mobilenet = nn.Sequential(*mobile)

    def double(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        )  # fmt: skip

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            widths = [64, 128, 256, 512]
            self.down = nn.ModuleList(
                double(a, b) for a, b in zip([1, *widths[:-1]], widths, strict=True)
            )
            self.bottom = double(512, 1024)
            self.up = nn.ModuleList(nn.ConvTranspose2d(2 * w, w, 2, 2) for w in widths)
            self.merge = nn.ModuleList(double(2 * w, w) for w in widths)
            self.out = nn.Conv2d(64, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            for down in self.down:
                x = down(x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            x = self.bottom(x)
            for up, merge, skip in reversed(list(zip(self.up, self.merge, skips, strict=True))):
                x = merge(torch.cat((skip, up(x)), dim=1))
            return self.out(x)  # type: ignore[no-any-return]

    return {"googlenet": googlenet, "densenet": densenet, "mobilenet_v2": mobilenet, "unet": UNet()}


@pytest.mark.torch
@pytest.mark.parametrize("name", ["googlenet", "densenet", "mobilenet_v2", "unet"])
def test_new_presets_match_torch_models_written_from_their_definitions(name: str) -> None:
    torch = pytest.importorskip("torch")
    from convcli.shapes.presets import PRESETS

    preset = PRESETS[name]
    net = walked(preset.spec, preset.input_shape)
    assert net.error is None, net.error
    model = _torch_models()[name].eval()
    assert net.params == sum(p.numel() for p in model.parameters())
    assert net.buffers == sum(b.numel() for b in model.buffers())
    macs: list[int] = []

    def count(layer: Any, inputs: Any, output: Any) -> None:
        if isinstance(layer, torch.nn.Conv2d):
            macs.append(output.numel() * layer.weight[0].numel())
        elif isinstance(layer, torch.nn.ConvTranspose2d):
            macs.append(inputs[0].numel() * layer.weight[0].numel())
        elif isinstance(layer, torch.nn.Linear):
            macs.append(output.numel() * layer.in_features)

    for module in model.modules():
        module.register_forward_hook(count)
    with torch.no_grad():
        out = model(torch.zeros(preset.input_shape))
    assert net.output_shape == tuple(out.shape)
    assert net.macs == sum(macs)


# -- printed models: accepted, refused, flagged ----------------------------------------------

PRINTED_NET = """Net(
  (features): Sequential(
    (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
    (1): ReLU()
    (2): AvgPool2d(kernel_size=2, stride=2, padding=0)
  )
  (flatten): Flatten(start_dim=1, end_dim=-1)
  (fc): Linear(in_features=392, out_features=2, bias=True)
)
"""


def test_a_module_list_is_refused_saying_why() -> None:
    torch = pytest.importorskip("torch")
    branches = torch.nn.ModuleList([torch.nn.Conv2d(1, 1, k) for k in (3, 5, 7)])
    result = invoke("net", str(branches), "--input-shape", "1x1x9x9")
    assert_usage_error(result, "a ModuleList says nothing about how its layers are joined")


def test_a_printed_avgpool_says_its_hidden_arguments_were_assumed(tmp_path: Any) -> None:
    torch = pytest.importorskip("torch")
    pool = torch.nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
    printed = str(torch.nn.Sequential(pool))
    assert "ceil_mode" not in printed  # what the printout hides
    result = invoke("net", printed, "--input-shape", "1x3x15x15")
    assert result.exit_code == 0, result.output
    assert "padding=0) *" in result.stdout
    assert "PyTorch's defaults (False, True) were assumed" in " ".join(result.stdout.split())
    assert json_of(invoke("net", printed, "--input-shape", "1x3x15x15", "--json"))["layers"][0][
        "assumed_defaults"
    ] == ["ceil_mode", "count_include_pad"]
    written = "AvgPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True)"
    net = walked(written, (1, 3, 15, 15))
    assert net.output_shape == tuple(pool(torch.zeros(1, 3, 15, 15)).shape) == (1, 3, 8, 8)
    assert net.rows[0].spec.assumed == ("count_include_pad",)


def test_printed_text_says_shared_modules_cannot_show() -> None:
    result = invoke("net", "Conv2d(3, 8, kernel_size=(3, 3)) > ReLU()", "--input-shape", "1x3x8x8")
    assert "cannot show a module used twice" in " ".join(result.stdout.split())
    spec = invoke("net", "conv(8, k=3) > relu", "--input-shape", "1x3x8x8")
    assert "used twice" not in spec.stdout


def test_custom_classes_are_refused_or_read_in_order(tmp_path: Any) -> None:
    path = tmp_path / "net.txt"
    path.write_text(PRINTED_NET, encoding="utf-8")
    refused = invoke("net", f"@{path}", "--input-shape", "1x3x16x16")
    assert_usage_error(refused, "'Net(' is a module with layers inside")
    assert "--in-order" in refused.stderr
    result = invoke("net", f"@{path}", "--input-shape", "1x3x16x16", "--in-order")
    assert result.exit_code == 0, result.output
    assert "Net(: children read in printed order" in " ".join(result.stdout.split())
    payload = json_of(
        invoke("net", f"@{path}", "--input-shape", "1x3x16x16", "--in-order", "--json")
    )
    assert payload["output_shape"] == [1, 2]
    assert {layer["read_in_order_from"] for layer in payload["layers"]} == {"Net"}


def test_a_linear_meeting_a_4d_input_suggests_flatten() -> None:
    text = "Conv2d(3, 8, kernel_size=(3, 3)) > Linear(in_features=288, out_features=2)"
    result = invoke("net", text, "--input-shape", "1x3x8x8")
    # The layers that fitted are shown; the refusal is one line.
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "layer 2 Linear(in_features=288" in result.stderr
    assert "put flatten before it" in result.stderr


def test_print_model_forms_that_are_accepted(tmp_path: Any) -> None:
    compressed = """Sequential(
  (0-2): 3 x Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, padding_mode=reflect)
  (3): Conv2dNormActivation(
    (0): Conv2d(4, 8, kernel_size=(1, 1), stride=(1, 1), bias=False)
    (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    (2): ReLU6(inplace=True)
  )
)"""
    net = walked(compressed, (1, 4, 6, 6))
    assert net.error is None, net.error
    assert [row.spec.kind for row in net.rows] == ["conv"] * 4 + ["bn", "relu6"]
    assert net.params == 3 * (4 * 4 * 9 + 4) + 32 + 16
    spec = tmp_path / "arch.txt"
    spec.write_text(
        "conv(8, k=3, p=1)  # stem\n"
        "residual(\n    conv(8, k=3, p=1) > relu\n    > conv(8, k=3, p=1),\n"
        "    shortcut=identity\n)\n"
        "concat(\n    identity\n  | conv(8, k=1)\n)\n",
        encoding="utf-8",
    )
    result = invoke("net", f"@{spec}", "--input-shape", "1x3x8x8", "--json")
    assert [layer["output_shape"] for layer in json_of(result)["layers"]] == [
        [1, 8, 8, 8], [1, 8, 8, 8], [1, 16, 8, 8]
    ]  # fmt: skip


def test_joins_in_json_are_entries_with_branches() -> None:
    result = invoke("net", "conv(4, k=1) > " + DENSE_BLOCK, "--input-shape", "1x3x8x8", "--json")
    layers = json_of(result)["layers"]
    assert [layer.get("join") for layer in layers] == [None, "concat", "concat", "concat", "concat"]
    assert [[len(branch) for branch in layer["branches"]] for layer in layers[1:]] == [[0, 3]] * 4
    assert layers[1]["branches"][1][2]["output_shape"] == [1, 32, 8, 8]
    residual = json_of(
        invoke("net", "residual(conv(3, k=1))", "--input-shape", "1x3x4x4", "--json")
    )
    assert set(residual["layers"][0]) >= {"layers", "shortcut"}


# -- torchinfo's summary numbers ---------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("name", ["lenet", "resnet18", "googlenet", "densenet", "mobilenet_v2"])
def test_sizes_are_torchinfos(name: str) -> None:
    pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from convcli.shapes.presets import PRESETS

    preset = PRESETS[name]
    net = walked(preset.spec, preset.input_shape)
    module = torch_network(net)
    stats = torchinfo.summary(module, input_size=preset.input_shape, verbose=0, device="cpu")
    assert (stats.total_params, stats.trainable_params) == (net.params, net.params)
    input_bytes, pass_bytes, param_bytes = net.torchinfo_bytes(4)
    assert (pass_bytes, param_bytes) == (stats.total_output_bytes, stats.total_param_bytes)
    # torchinfo measures the input with sys.getsizeof, which adds the storage object's own
    # few dozen bytes to its data.
    assert 0 <= stats.total_input - input_bytes < 200
    payload = json_of(invoke("net", "--preset", name, "--json"))
    assert payload["total"]["torchinfo_bytes"]["params"] == stats.total_param_bytes
    percents = [layer["params_percent"] for layer in payload["layers"]]
    assert abs(sum(percents) - 100) < 0.01 * len(percents)


def test_depth_folds_a_joins_branches() -> None:
    spec = "conv(8, k=3, p=1) > se(2) > concat(identity | bn > relu > conv(4, k=3, p=1))"
    folded = invoke("net", spec, "--input-shape", "1x3x8x8", "--depth", "1")
    assert folded.exit_code == 0, folded.output
    assert "se(2) (5 layers)" in folded.stdout and "concat (3 layers)" in folded.stdout
    assert "| a identity" not in folded.stdout and "gap" not in folded.stdout
    unfolded = invoke("net", spec, "--input-shape", "1x3x8x8", "--depth", "all").stdout
    assert "| a identity" in unfolded and "gap" in unfolded
    layers = json_of(invoke("net", spec, "--input-shape", "1x3x8x8", "--json"))["layers"]
    assert [entry["level"] for entry in layers[2]["branches"][1]] == [2, 2, 2]


# -- the graph front door (nodes with named inputs, as a model file gives them) ----------------


def _nodes(*rows: tuple[str, str, tuple[str, ...], Any]) -> list[Any]:
    from convcli.shapes.graph import Node

    return [Node(name, op, inputs, attributes) for name, op, inputs, attributes in rows]


def test_a_graph_nests_into_the_spec_it_means() -> None:
    from convcli.shapes.graph import graph_spec

    conv = {"out_channels": 8, "kernel_size": 3, "padding": 1}
    nodes = _nodes(
        ("c1", "conv", ("x",), conv),
        ("r1", "relu", ("c1",), {}),
        # a residual block: add(conv > relu > conv | identity)
        ("c2", "conv", ("r1",), conv), ("r2", "relu", ("c2",), {}), ("c3", "conv", ("r2",), conv),
        ("s", "add", ("c3", "r1"), {}),
        # squeeze-excitation: mul(identity | gap > conv > sigmoid), with a fork inside a branch
        ("g", "gap", ("s",), {}), ("q", "conv", ("g",), {"out_channels": 8, "kernel_size": 1}),
        ("h", "sigmoid", ("q",), {}), ("m", "mul", ("s", "h"), {}),
        ("p", "maxpool", ("m",), {"kernel_size": 3, "stride": 1, "padding": 1}),
        ("a", "conv", ("m",), {"out_channels": 4, "kernel_size": 1}),
        ("b1", "conv", ("m",), {"out_channels": 4, "kernel_size": 1}),
        ("b2", "conv", ("b1",), {"out_channels": 4, "kernel_size": 1}),
        ("b3", "conv", ("b1",), {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("bb", "concat", ("b2", "b3"), {}),
        ("y", "concat", ("a", "bb", "p"), {}),
    )  # fmt: skip
    spec = graph_spec(nodes, "x")
    written = (
        "conv(8, k=3, p=1) > relu > add(conv(8, k=3, p=1) > relu > conv(8, k=3, p=1) | identity)"
        " > mul(identity | gap > conv(8, k=1) > sigmoid)"
        " > concat(conv(4, k=1) | conv(4, k=1) > concat(conv(4, k=1) | conv(4, k=3, p=1))"
        " | maxpool(3, s=1, p=1))"
    )
    ours, theirs = walked(spec, (1, 3, 8, 8)), walked(written, (1, 3, 8, 8))
    assert ours.error is None and theirs.error is None
    assert [(r.output_shape, r.params, r.macs, r.flops, r.fields) for r in ours.rows] == [
        (r.output_shape, r.params, r.macs, r.flops, r.fields) for r in theirs.rows
    ]


def test_a_graph_that_is_not_chains_and_joins_is_refused() -> None:
    from convcli.shapes.graph import graph_spec

    crossing = _nodes(
        ("a", "relu", ("x",), {}), ("b", "sigmoid", ("x",), {}),
        ("c", "add", ("a", "b"), {}), ("y", "add", ("c", "a"), {}),
    )  # fmt: skip
    with pytest.raises(OptionError, match="node"):
        graph_spec(crossing, "x")
    with pytest.raises(OptionError, match="produced by no node"):
        graph_spec(_nodes(("y", "relu", ("z",), {})), "x")


def test_at_gives_the_set_of_cells_through_a_join() -> None:
    # A strided branch beside a dilated one: the cells reached have gaps.
    spec = "add(conv(1, k=3, d=3, p=3) | conv(1, k=1)) > conv(1, k=1)"
    result = invoke("net", spec, "--input-shape", "1x1x12x12", "--at", "4,4", "--json")
    at = json_of(result)["at"]
    net = walked(spec, (1, 1, 12, 12))
    trace = trace_cell(net, (4, 4))
    assert at["input_row_cells"] == sorted(trace.row_cells) == [1, 4, 7]
    assert at["input_rows"] == [1, 7]
    text = invoke("net", spec, "--input-shape", "1x1x12x12", "--at", "4,4").stdout
    assert "3 rows and 3 columns are reached" in " ".join(text.split())


def test_nested_repeats_are_counted_before_they_are_built() -> None:
    with pytest.raises(OptionError, match="repeat makes more than 100,000 layers"):
        parse_spec("repeat(1000, repeat(1000, repeat(1000, relu)))")
    with pytest.raises(OptionError, match="more than 100,000"):
        parse_spec("repeat(1000, concat(identity | repeat(200, relu)))")
    assert len(parse_spec("repeat(100, repeat(10, relu))")) == 1000


def _rows_of(layers: list[dict[str, Any]], prefix: str = "") -> list[str]:
    """The rows a table prints for --json ``layers``: a join's ``| a`` line before each
    branch, the branch's rows (``3.b2``) under it."""
    rows: list[str] = []
    for layer in layers:
        label = f"{prefix}{layer['index']}"
        rows.append(label)
        for number, branch in enumerate(layer.get("branches", [])):
            letter = chr(ord("a") + number)
            rows.append("|")
            rows += _rows_of(branch, f"{label}.{letter}")
    return rows


def _printed(text: str) -> list[list[str]]:
    tables: list[list[str]] = [[]]
    for line in text.split("\ntotal\n")[0].splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "#" and tables[-1]:
            tables.append([])
        if re.fullmatch(r"\d+(\.[a-z]?\d+)*", words[0]) or words[0] == "|":
            tables[-1].append(words[0])
    return tables


def test_every_width_prints_every_branch_row() -> None:
    spec = (
        "conv(8, k=3, p=1) > se(2) > chunk(2, identity | conv(4, k=3, p=1) > relu6) > "
        + DENSE_BLOCK.replace("4,", "2,")
    )
    args = ("net", spec, "--input-shape", "1x3x8x8")
    every = _rows_of(json_of(invoke(*args, "--json"))["layers"])
    assert every.count("|") == 2 + 2 + 2 * 2
    for width in range(40, 241, 13):
        result = invoke(*args, "--depth", "all", env={"COLUMNS": str(width), "NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        tables = _printed(result.stdout)
        assert tables and all(table == every for table in tables), width


TRAINING = [
    ("concat(identity | conv(4, k=3, p=1) > relu) > conv(2, k=1)", (2, 3, 6, 6)),
    ("conv(4, k=1) > se(2) > conv(2, k=1)", (1, 3, 5, 5)),
    ("conv(4, k=1) > add(conv(4, k=3, p=1) > sigmoid | identity) > tanh", (1, 2, 5, 5)),
    ("conv(4, k=1) > chunk(2, identity | conv(2, k=1) > relu) > conv(2, k=1)", (1, 2, 5, 5)),
    ("conv(4, k=1) > mul(gelu | gap > sigmoid)", (1, 2, 4, 4)),
]


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "shape"), TRAINING)
def test_training_memory_through_joins_matches_torch(spec: str, shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    from convcli.shapes.training import training_memory

    network = walked(spec, shape)
    module = torch_network(network).train()
    kept: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(torch.randn(*shape)).sum().backward()
    assert training_memory(network, 4).kept_bytes == sum(kept.values())


def test_blocks_nested_too_deep_are_refused_in_one_line(tmp_path: Any) -> None:
    path = tmp_path / "deep.txt"
    path.write_text("concat(" * 51 + "relu" + ")" * 51, encoding="utf-8")
    for extra in ([], ["--emit", "torch"], ["--json"]):
        assert_usage_error(
            invoke("net", f"@{path}", "--input-shape", "1x1x2x2", *extra), "nested more than 50"
        )
    path.write_text("add(" * 50 + "relu | identity" + ")" * 50, encoding="utf-8")
    result = invoke("net", f"@{path}", "--input-shape", "1x1x2x2", "--emit", "torch")
    assert result.exit_code == 0, result.output
