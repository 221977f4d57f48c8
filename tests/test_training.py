"""net --training: backward MACs and what training keeps, against PyTorch on the presets.

What autograd keeps is read with torch.autograd.graph.saved_tensors_hooks (deduplicated by
storage), the backward's cost with FlopCounterMode, the optimizers' state from
torch.optim after one step.
"""

from __future__ import annotations

from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of

from convcli.render.torchcode import torch_script
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import Network, walk_network
from convcli.shapes.presets import PRESETS
from convcli.shapes.training import training_memory

# Smaller inputs than the book's where the network allows, to keep the tests quick.
SHAPES = {
    "lenet": (2, 1, 28, 28),
    "alexnet": (1, 1, 128, 128),
    "vgg11": (1, 1, 64, 64),
    "nin": (1, 1, 96, 96),
    "resnet18": (2, 1, 64, 64),
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


def _torch_net(network: Network) -> Any:
    namespace: dict[str, Any] = {}
    exec(torch_script(network).split("\nx = torch.zeros")[0], namespace)
    return namespace["net"]


@pytest.mark.torch
@pytest.mark.parametrize(("spec", "shape"), CASES, ids=IDS)
def test_kept_bytes_and_backward_macs_match_torch(spec: str, shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    network = walk_network(parse_spec(spec), shape)
    assert network.error is None
    net = _torch_net(network)
    net.train()
    kept: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = net(torch.randn(*shape))
    with FlopCounterMode(display=False) as backward:
        y.sum().backward()
    memory = training_memory(network, 4)
    assert memory.kept_bytes == sum(kept.values())
    grouped_extra = 0
    if spec == MIXED:  # FlopCounterMode's dW of the groups=2 convolution: c_i, not c_i/g
        grouped_extra = 2 * next(r.macs for r in network.rows if "g=2" in r.spec.text)
    assert 2 * memory.backward_macs + grouped_extra == backward.get_total_flops()
    assert memory.param_bytes == 4 * sum(p.numel() for p in net.parameters())


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
