"""Models exported by PyTorch (both exporters) read back by `convcli net MODEL.onnx` and
checked against torch: output shape, params (the initializers' elements), MACs (counted
with forward hooks) and the receptive field (the gradient's support)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import invoke, json_of

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from onnx_models import FAMILIES, Fully  # noqa: E402

SIZE = 64


def _export(model: Any, path: Path, dynamo: bool, size: int = SIZE) -> str:
    if dynamo:
        pytest.importorskip("onnxscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.randn(1, 3, size, size),), str(path), dynamo=dynamo, verbose=False
        )
    return str(path)


def _hook_macs(model: Any, size: int = SIZE) -> int:
    total = 0

    def hook(module: Any, inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * module.in_channels // module.groups * k
        elif isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(torch.randn(1, 3, size, size))
    for handle in handles:
        handle.remove()
    return total


def _trained(model: Any) -> None:
    """Norm layers with values of their own, as trained (equal initializers are merged)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)


def _weights(path: str) -> int:
    """The initializers' elements, BatchNormalization's running mean and variance apart."""
    model = onnx.load(path)
    stats = {
        name
        for node in model.graph.node
        if node.op_type == "BatchNormalization"
        for name in node.input[3:5]
    }
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
    return sum(
        int(np.prod(t.dims))
        for t in model.graph.initializer
        if t.name not in stats and t.data_type in floats and int(np.prod(t.dims)) > 1
    )


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_families_read_with_no_unknown_operator(family: str, dynamo: bool, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = FAMILIES[family]().eval()
    _trained(model)
    path = _export(model, tmp_path / f"{family}.onnx", dynamo)
    payload = json_of(invoke("net", path, "--json"))
    with torch.no_grad():
        expected = tuple(model(torch.randn(1, 3, SIZE, SIZE)).shape)
    assert tuple(payload["output_shape"]) == expected
    assert payload["onnx"]["uncounted"] == {}
    assert payload["onnx"]["stopped_at"] is None
    assert payload["total"]["macs"] == _hook_macs(model)
    onnx_key = payload["onnx"]
    assert onnx_key["params_counted_once"] + onnx_key["elementwise_weights"] == _weights(path)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_field_is_the_gradients_support(dynamo: bool, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Fully().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    path = _export(model, tmp_path / "fully.onnx", dynamo, 48)
    x = torch.rand(1, 3, 48, 48, requires_grad=True)
    out = model(x)
    i, j = 5, 7
    out[0, :, i, j].sum().backward()
    support = x.grad[0].abs().sum(0).nonzero()
    rows = [int(support[:, 0].min()), int(support[:, 0].max())]
    cols = [int(support[:, 1].min()), int(support[:, 1].max())]
    payload = json_of(invoke("net", path, "--json", "--at", f"{i},{j}"))
    assert payload["at"]["input_rows"] == rows
    assert payload["at"]["input_cols"] == cols


def test_json_rows_name_their_module_from_the_node_names(tmp_path: Path) -> None:
    """PyTorch's TorchScript exporter names nodes by module path (/layer1/layer1.0/Add):
    each top-level row says its module, a residual block's join its block."""
    torch.manual_seed(0)
    model = FAMILIES["resnet"]().eval()
    path = _export(model, tmp_path / "resnet.onnx", dynamo=False)
    rows = json_of(invoke("net", path, "--json"))["layers"]
    joins = [row["module"] for row in rows if row.get("join") == "add"]
    blocks = [
        f"/{name}/{name}.{index}"
        for name, child in model.named_children()
        if name.startswith("layer")
        for index in range(len(list(child.children())))
    ]
    assert joins == blocks
    assert rows[0]["module"] == "/conv1"
    assert rows[-1]["module"] == "/fc"
