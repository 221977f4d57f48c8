"""net --training: backward MACs and what training keeps, against PyTorch on the presets.

What autograd keeps is read with torch.autograd.graph.saved_tensors_hooks (deduplicated by
storage), the backward's cost with FlopCounterMode, the optimizers' state from
torch.optim after one step.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of

from convcli.render.torchcode import torch_script
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import Network, walk_network
from convcli.shapes.presets import PRESETS
from convcli.shapes.training import MODELLED, training_memory

# Smaller inputs than the book's where the network allows, to keep the tests quick.
SHAPES = {
    "lenet": (2, 1, 28, 28),
    "alexnet": (1, 1, 128, 128),
    "vgg11": (1, 1, 64, 64),
    "nin": (1, 1, 96, 96),
    "resnet18": (2, 1, 64, 64),
    "googlenet": (1, 1, 96, 96),
    "densenet": (1, 1, 64, 64),
    "mobilenet_v2": (1, 3, 64, 64),
    "unet": (1, 1, 64, 64),
}
MIXED = (
    "conv(8, k=3, p=1) > bn > gelu > maxpool(2) > conv(8, k=3, g=2) > silu > dropout(0.3) > "
    "adaptivemaxpool(2) > flatten > linear(5) > leakyrelu > linear(3, bias=False) > tanh"
)
CASES = [(PRESETS[name].spec, shape) for name, shape in SHAPES.items()] + [
    (MIXED, (2, 3, 12, 12)),
    ("residual(conv(4, k=3, p=1) > bn(affine=False) > relu) > avgpool(2) > gap", (1, 4, 6, 6)),
]
IDS = [*SHAPES, "mixed", "residual"]


# Every layer net accepts alone, after a convolution and before one (so that its input
# needs a gradient, or not, and its output feeds a layer that keeps its input).
LAYERS = [
    "relu6", "hardswish", "hardsigmoid", "mish", "elu", "elu(0.5)", "prelu", "prelu(6)",
    "softmax", "softmax(dim=2)", "groupnorm(2)", "groupnorm(3, affine=False)",
    "groupnorm(6, bias=False)", "layernorm(6)", "layernorm((6, 6))",
    "layernorm(6, elementwise_affine=False)", "layernorm(6, bias=False)", "layernorm2d",
    "layernorm2d(elementwise_affine=False)", "layernorm2d(bias=False)", "instancenorm",
    "instancenorm(affine=True)", "instancenorm(track_running_stats=True)",
    "instancenorm(affine=True, track_running_stats=True)", "instancenorm(affine=True, bias=False)",
    "dropout2d", "dropout2d(0.0)", "dropout2d(1.0)", "dropout(0.0)", "dropout(1.0)", "dropout",
    "zeropad(1)", "zeropad((1, 0, 2, 1))", "upsample(scale_factor=2)",
    "upsample(scale_factor=2, mode='bilinear')",
    "upsample(size=(5, 7), mode='bilinear', align_corners=True)", "shuffle(2)", "shuffle(1)",
    "avgpool(2)", "avgpool(3, 2, 1, ceil_mode=True, count_include_pad=False)",
    "adaptiveavgpool(3)", "adaptiveavgpool((None, 1))", "adaptiveavgpool(1)", "gap",
    "adaptivemaxpool(3)", "maxpool(2)", "gelu(approximate='tanh')", "silu", "leakyrelu",
    "sigmoid", "tanh", "relu", "identity",
    "convT(3, k=3, s=2, p=1, output_padding=1, d=2)", "convT(6, k=3, s=2, g=2)",
    "convT(4, k=2, s=2, bias=False)", "convT(6, k=3, s=3, p=1, output_padding=2, g=3, d=2)",
    "bn", "bn(affine=False)", "bn(track_running_stats=False)", "bn(bias=False)",
]  # fmt: skip
AROUND = [("", ""), ("conv(6, k=1) > ", ""), ("conv(6, k=1) > ", " > conv(2, k=1)")]
# A view of a tensor a layer before kept: kept once.
VIEWS = [
    ("conv(4, k=1) > relu > dropout(0.0) > conv(2, k=1)", (1, 2, 4, 4)),
    ("conv(4, k=1) > relu > dropout2d(0.0) > identity > conv(2, k=1)", (1, 2, 4, 4)),
    ("conv(4, k=1) > flatten > linear(6) > layernorm(6) > prelu > softmax > dropout(0.2) > "
     "linear(3)", (2, 3, 4, 4)),
    ("conv(4, k=1) > flatten > bn > dropout(0.0) > linear(3)", (2, 3, 4, 4)),
    # (N, C) and (N, C, L) inputs: GroupNorm's samples, Dropout2d's mask per (N, C)
    ("conv(4, k=1) > flatten > groupnorm(2) > linear(3)", (3, 2, 4, 4)),
    ("conv(4, k=1) > flatten > linear(6) > dropout2d(0.5) > linear(2)", (3, 2, 4, 4)),
    ("conv(4, k=1) > flatten(start_dim=2) > dropout2d(0.5) > relu", (3, 2, 4, 4)),
    ("conv(4, k=1) > flatten(start_dim=2) > softmax(dim=2) > prelu(4) > bn > relu", (3, 2, 4, 4)),
]  # fmt: skip


def _torch_net(network: Network) -> Any:
    namespace: dict[str, Any] = {}
    exec(torch_script(network).split("\nx = torch.zeros")[0], namespace)
    return namespace["net"]


def _measured(network: Network, shape: tuple[int, ...]) -> tuple[int, int]:
    """What autograd keeps (deduplicated by storage) and FlopCounterMode's backward FLOPs."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    net = _torch_net(network)
    net.train()
    kept: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dropout2d of a 2-D or 3-D input: deprecated
        y = net(torch.randn(*shape))
    if not y.requires_grad:  # no parameter anywhere: nothing to train
        return sum(kept.values()), 0
    with FlopCounterMode(display=False) as backward:
        y.sum().backward()
    return sum(kept.values()), backward.get_total_flops()


def _grouped_extra(rows: Any) -> int:
    """FlopCounterMode's dW of a grouped (transposed) convolution uses c_i, not c_i/g: g
    times the true count."""
    extra = 0
    for row in rows:
        groups = row.spec.args.get("groups", 1) if row.spec.kind in ("conv", "convT") else 1
        extra += 2 * (int(groups) - 1) * row.macs
        extra += _grouped_extra(row.inner)
    return extra


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "shape"), CASES, ids=IDS)
def test_kept_bytes_and_backward_macs_match_torch(spec: str, shape: tuple[int, ...]) -> None:
    network = walk_network(parse_spec(spec), shape)
    assert network.error is None
    kept, flops = _measured(network, shape)
    memory = training_memory(network, 4)
    assert memory.kept_bytes == kept
    assert 2 * memory.backward_macs + _grouped_extra(network.rows) == flops
    net = _torch_net(network)
    assert memory.param_bytes == 4 * sum(p.numel() for p in net.parameters())
    assert memory.kept_param_bytes <= memory.param_bytes


@pytest.mark.torch
@pytest.mark.parametrize("around", AROUND, ids=["alone", "after-conv", "between-convs"])
@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_keeps_what_autograd_keeps(layer: str, around: tuple[str, str]) -> None:
    spec = around[0] + layer + around[1]
    shape = (2, 6, 6, 6)
    network = walk_network(parse_spec(spec), shape)
    assert network.error is None, network.error
    kept, flops = _measured(network, shape)
    memory = training_memory(network, 4)
    assert memory.kept_bytes == kept
    assert 2 * memory.backward_macs + _grouped_extra(network.rows) == flops


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "shape"), VIEWS)
def test_views_and_flattened_layers_keep_what_autograd_keeps(
    spec: str, shape: tuple[int, ...]
) -> None:
    network = walk_network(parse_spec(spec), shape)
    kept, flops = _measured(network, shape)
    memory = training_memory(network, 4)
    assert memory.kept_bytes == kept
    assert 2 * memory.backward_macs == flops


def test_every_layer_net_accepts_is_modelled() -> None:
    from convcli.shapes import netspec

    kinds = {kind for kind, _params in netspec._SHORT.values()}
    kinds |= {kind for kind, _size, _params in netspec._TORCH.values()}
    assert kinds | {*netspec.JOINS, "se", "residual"} <= set(MODELLED)


def test_a_layer_not_modelled_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from convcli.shapes import training

    monkeypatch.setattr(training, "MODELLED", tuple(k for k in MODELLED if k != "hardswish"))
    result = invoke("net", "conv(4, k=1) > hardswish", "--input-shape", "1x2x4x4", "--training")
    assert_usage_error(result, "layer 2 hardswish: what autograd keeps for it is not modelled")


def test_prelu_and_affine_norms_make_the_next_input_need_a_gradient() -> None:
    # no convolution before: the first layer with a weight still keeps what dW needs
    for spec in ("prelu > relu", "groupnorm(2) > relu", "layernorm2d > relu", "bn > relu"):
        network = walk_network(parse_spec(spec), (1, 4, 3, 3))
        first, relu = training_memory(network, 4).layers
        assert first.kept_bytes > 0 and relu.kept_bytes == 4 * 36, spec
    network = walk_network(parse_spec("groupnorm(2, affine=False) > relu"), (1, 4, 3, 3))
    assert [layer.kept_bytes for layer in training_memory(network, 4).layers] == [0, 0]


@pytest.mark.torch
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize(("spec", "shape"), CASES[:1] + CASES[-2:], ids=["lenet", *IDS[-2:]])
def test_optimizer_state_matches_torch(spec: str, shape: tuple[int, ...], optimizer: str) -> None:
    torch = pytest.importorskip("torch")
    network = walk_network(parse_spec(spec), shape)
    net = _torch_net(network)
    params = list(net.parameters())
    if optimizer == "adam":
        opt = torch.optim.Adam(params)
    else:
        opt = torch.optim.SGD(params, lr=0.1, momentum=0.9 if optimizer == "momentum" else 0)
    net(torch.randn(*shape)).sum().backward()
    opt.step()
    state = sum(
        value.untyped_storage().nbytes()
        for per_param in opt.state.values()
        for value in per_param.values()
        if torch.is_tensor(value)
    )
    assert training_memory(network, 4, optimizer).optimizer_bytes == state


def test_first_layer_needs_no_input_gradient() -> None:
    network = walk_network(parse_spec("conv(2, k=3) > relu > conv(1, k=1)"), (1, 1, 4, 4))
    memory = training_memory(network, 4)
    first, _relu, second = memory.layers
    assert first.backward_macs == network.rows[0].macs  # dW only
    assert second.backward_macs == 2 * network.rows[2].macs  # dW and dX
    assert memory.total_bytes == (
        memory.param_bytes + memory.gradient_bytes + memory.optimizer_bytes
        + memory.activation_bytes
    )  # fmt: skip


def test_cli_training_json() -> None:
    data = json_of(invoke("net", "--preset", "lenet", "--training", "--optimizer", "momentum",
                          "--json"))  # fmt: skip
    training = data["training"]
    assert training["optimizer"] == "momentum"
    assert training["optimizer_bytes"] == training["param_bytes"] == 4 * data["total"]["params"]
    assert len(training["layers"]) == 12
    assert training["kept_bytes"] == sum(layer["kept_bytes"] for layer in training["layers"])


def test_cli_training_text() -> None:
    result = invoke("net", "--preset", "resnet18", "--training")
    assert result.exit_code == 0, result.output
    assert "training memory" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--optimizer", "adam"], ["--optimizer", "--training"]),
        (["--training", "--optimizer", "rmsprop"], ["--optimizer"]),
        (["--training", "--emit", "torch"], ["--emit"]),
    ],
)
def test_cli_refusals(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("net", "--preset", "lenet", *args), *words)


def test_shapes_backward_of_a_pooling_layer_points_to_net_training() -> None:
    # a transposed layer's is counted by shapes itself (tests/test_cost_transposed.py)
    args = ("shapes", "--pool", "max", "--input-shape", "8x4x4", "--kernel-size", "2")
    line = assert_usage_error(invoke(*args, "--backward"), "--backward", "--training")
    hinted = line.split(": net ")[1].split(" --input-shape")[0].strip('"')
    network = walk_network(parse_spec("conv(8, k=1) > " + hinted.replace("K", "2")), (1, 8, 4, 4))
    assert network.error is None and training_memory(network, 4).layers[-1].kept_bytes > 0
