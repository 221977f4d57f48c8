"""``net --training``'s per-layer table read like ``net``'s own: a join by its kind before
its branches' rows, and for a model file each row named by the module that computed it
(``layer1.0.conv1: conv(...)``, as ``model.named_modules()`` names it)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import invoke, json_of

from convcli.shapes.modules import Origin, Scope

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _rows(stdout: str) -> list[tuple[str, str]]:
    """(index, layer) of each row of the training table."""
    table = stdout.split("bytes each layer is the first to keep for it")[1]
    table = table.split("training memory")[0]
    rows = []
    for line in table.splitlines():
        found = re.match(r"\s*(\d+(?:\.[a-z]\d+)*)\s{2,}(.+?)\s{2,}(?:[\d,]+|-)\s", line)
        if found:
            rows.append((found.group(1), found.group(2)))
    return rows


def _block_model() -> Any:
    """A residual block with a projection, named as PyTorch's TorchScript exporter names
    nodes (/layer1/layer1.0/conv1/Conv)."""
    rng = np.random.default_rng(0)

    def init(name: str, *shape: int) -> Any:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["c0"], name="/conv1/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c0", "w1"], ["c1"], name="/layer1/layer1.0/conv1/Conv"),
        helper.make_node("Relu", ["c1"], ["r1"], name="/layer1/layer1.0/relu/Relu"),
        helper.make_node(
            "Conv", ["c0", "wd"], ["d"], name="/layer1/layer1.0/downsample/downsample.0/Conv"
        ),
        helper.make_node("Add", ["r1", "d"], ["a"], name="/layer1/layer1.0/Add"),
        helper.make_node("Relu", ["a"], ["y"], name="/layer1/layer1.0/relu_1/Relu"),
    ]
    inits = [init("w0", 4, 3, 3, 3), init("w1", 8, 4, 1, 1), init("wd", 8, 4, 1, 1)]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_model_file_rows_are_named_by_their_module(tmp_path: Path) -> None:
    path = tmp_path / "block.onnx"
    path.write_bytes(_block_model().SerializeToString())
    result = invoke("net", str(path), "--training")
    assert result.exit_code == 0, result.output
    assert _rows(result.stdout) == [
        ("1", "conv1: conv(4, k=3, p=1, bias=False)"),
        ("2", "layer1.0: add"),
        ("2.a1", "layer1.0.conv1: conv(8, k=1, bias=False)"),
        ("2.a2", "layer1.0.relu: relu"),
        ("2.b1", "layer1.0.downsample.0: conv(8, k=1, bias=False)"),
        ("3", "layer1.0.relu_1: relu"),
    ]
    data = json_of(invoke("net", str(path), "--training", "--json"))
    layers = data["training"]["layers"]
    assert [row["index"] for row in layers] == ["1", "2", "2.a1", "2.a2", "2.b1", "3"]
    assert layers[2]["node"] == "/layer1/layer1.0/conv1/Conv"
    assert layers[4]["module"] == "/layer1/layer1.0/downsample/downsample.0"


def test_a_specs_join_is_its_kind_before_its_branches() -> None:
    spec = "conv(4, k=3, p=1) > add(conv(4, k=3, p=1) > relu | identity) > relu"
    result = invoke("net", spec, "--input-shape", "1x3x8x8", "--training")
    assert result.exit_code == 0, result.output
    assert [layer for _index, layer in _rows(result.stdout)] == [
        "conv(4, k=3, p=1)", "add", "conv(4, k=3, p=1)", "relu", "relu",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("names", "qualified"),
    [
        (("layer1", "layer1.0", "conv1"), "layer1.0.conv1"),
        (("layer2", "layer2.0", "downsample", "downsample.0"), "layer2.0.downsample.0"),
        (("features", "features.3", "block", "block.0", "block.0.0"), "features.3.block.0.0"),
        (("layer1", "layer1.0", "layer1.0.conv1"), "layer1.0.conv1"),
        ((), ""),
    ],
)
def test_qualified_names(names: tuple[str, ...], qualified: str) -> None:
    origin = Origin("n", "conv", 1, tuple(Scope(name) for name in names))
    assert origin.qualified == qualified


@pytest.mark.torch
@pytest.mark.parametrize("dynamo", [False, True])
def test_exported_modules_are_named_as_torch_names_them(tmp_path: Path, dynamo: bool) -> None:
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")
    from onnx_models import BasicBlock

    nn = torch.nn
    model = nn.Sequential()
    model.add_module("stem", nn.Conv2d(3, 4, 3))
    model.add_module("layer1", nn.Sequential(BasicBlock(4, 8, 2), BasicBlock(8, 8, 1)))
    model.eval()
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 16, 16),), str(path), dynamo=dynamo)
    result = invoke("net", str(path), "--training")
    assert result.exit_code == 0, result.output
    named = dict(model.named_modules())
    convs = [layer for _index, layer in _rows(result.stdout) if ": conv(" in layer]
    assert len(convs) == 6  # the stem; conv1, conv2 (and downsample.0) of each block
    for layer in convs:
        # dynamo=True folds a BatchNorm into the conv before it, naming the node after it
        assert isinstance(named[layer.split(": ")[0]], nn.Conv2d | nn.BatchNorm2d), layer
