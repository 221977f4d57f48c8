"""GroupNorm read from ONNX as ``groupnorm(num_groups)``, not as an InstanceNorm.

PyTorch's two exporters write torch.nn.GroupNorm as Reshape to (N, G, -1), an
InstanceNormalization of unit scale and zero bias, Reshape back, Mul by the weight and Add
the bias; other tools write the GroupNormalization operator (its scale and bias per group
in opset 18, per channel from opset 21). Graphs built with onnx.helper (no torch) and
models exported by PyTorch, checked against torch's parameters and saved tensors.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import invoke, json_of

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

C, G = 8, 2


def _const(name: str, value: Any) -> Any:
    return numpy_helper.from_array(np.asarray(value), name)


def _graph(nodes: list[Any], inits: list[Any], opset: int) -> Any:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _read(tmp_path: Path, model: Any, *args: str) -> Any:
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return json_of(invoke("net", str(path), "--json", *args))


def _exported_pattern(*, affine: bool, scale: float = 1.0) -> Any:
    """Conv, then GroupNorm as PyTorch's TorchScript exporter writes it, then ReLU."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Reshape", ["c", "groups"], ["r"]),
        helper.make_node("InstanceNormalization", ["r", "ones", "zeros"], ["i"], epsilon=1e-3),
        helper.make_node("Shape", ["c"], ["s"]),
        helper.make_node("Reshape", ["i", "s"], ["back"]),
    ]
    inits = [
        _const("w", rng.standard_normal((C, 3, 3, 3)).astype(np.float32)),
        _const("groups", np.array([0, G, -1], np.int64)),
        _const("ones", np.full(G, scale, np.float32)),
        _const("zeros", np.zeros(G, np.float32)),
    ]
    last = "back"
    if affine:
        nodes += [
            helper.make_node("Mul", ["back", "gamma"], ["m"]),
            helper.make_node("Add", ["m", "beta"], ["a"]),
        ]
        inits += [
            _const("gamma", rng.standard_normal((C, 1, 1)).astype(np.float32)),
            _const("beta", rng.standard_normal((C, 1, 1)).astype(np.float32)),
        ]
        last = "a"
    nodes.append(helper.make_node("Relu", [last], ["y"]))
    return _graph(nodes, inits, 17)


def test_the_exporters_pattern_is_a_groupnorm(tmp_path: Path) -> None:
    data = _read(tmp_path, _exported_pattern(affine=True))
    layers = [row["layer"] for row in data["layers"]]
    assert layers == ["conv(8, k=3, bias=False)", "groupnorm(2, eps=0.001)", "relu"]
    assert data["layers"][1]["params"] == 2 * C  # weight and bias, one per channel
    assert data["onnx"]["elementwise_weights"] == 0
    assert data["total"]["params"] == C * 27 + 2 * C
    assert data["layers"][1]["node"] == "i"


def test_the_pattern_without_weight_is_a_plain_groupnorm(tmp_path: Path) -> None:
    data = _read(tmp_path, _exported_pattern(affine=False))
    assert data["layers"][1]["layer"] == "groupnorm(2, eps=0.001, affine=False)"
    assert data["layers"][1]["params"] == 0


def test_an_instance_norm_that_scales_is_not_taken_for_a_groupnorm(tmp_path: Path) -> None:
    data = _read(tmp_path, _exported_pattern(affine=False, scale=2.0))
    assert not any(row["layer"].startswith("groupnorm") for row in data["layers"])


@pytest.mark.parametrize(("opset", "scale"), [(21, C), (18, C), (18, G)])
def test_the_group_normalization_operator(tmp_path: Path, opset: int, scale: int) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("GroupNormalization", ["c", "s", "b"], ["y"], num_groups=G, epsilon=1e-4),
    ]
    inits = [
        _const("w", np.ones((C, 3, 3, 3), np.float32)),
        _const("s", np.ones(scale, np.float32)),
        _const("b", np.zeros(scale, np.float32)),
    ]
    data = _read(tmp_path, _graph(nodes, inits, opset))
    row = data["layers"][1]
    if scale == C:  # per channel, as torch.nn.GroupNorm's weight and bias
        assert (row["layer"], row["params"]) == ("groupnorm(2, eps=0.0001)", 2 * C)
        assert data["onnx"]["elementwise_weights"] == 0
    else:  # opset 18's per-group scale and bias: no groupnorm has them
        assert (row["layer"], row["params"]) == ("groupnorm(2, eps=0.0001, affine=False)", 0)
        assert data["onnx"]["elementwise_weights"] == 2 * G
    assert row["output_shape"] == [1, C, 6, 6]


@pytest.mark.torch
@pytest.mark.parametrize("dynamo", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_torch_group_norm_reads_back_as_groupnorm(
    tmp_path: Path, dynamo: bool, affine: bool
) -> None:
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, C, 3, padding=1), nn.GroupNorm(G, C, eps=1e-3, affine=affine), nn.ReLU(),
        nn.Conv2d(C, 4, 1), nn.GroupNorm(4, 4),
    )  # fmt: skip
    shape = (2, 3, 8, 8)
    path = tmp_path / "gn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(*shape),), str(path), dynamo=dynamo)
    data = json_of(invoke("net", str(path), "--json", "--training"))
    layers = [row["layer"] for row in data["layers"]]
    assert layers[4] == "groupnorm(4)"
    assert data["onnx"]["elementwise_weights"] == 0
    if dynamo and not affine:
        # dynamo=True stores affine=False's ones and zeros as initializers, as it stores a
        # weight and bias: the file cannot tell them apart, and its elements are counted
        assert layers[1] == "groupnorm(2, eps=0.001)"
        assert data["total"]["params"] == sum(p.numel() for p in model.parameters()) + 2 * C
        return
    assert layers[1] == "groupnorm(2, eps=0.001" + (")" if affine else ", affine=False)")
    assert data["total"]["params"] == sum(p.numel() for p in model.parameters())
    # what autograd keeps for a GroupNorm (a mean and rstd per sample and group), not an
    # InstanceNorm's (per sample and channel)
    kept: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.randn(*shape))
    assert data["training"]["kept_bytes"] == sum(kept.values())


@pytest.mark.torch
@pytest.mark.parametrize("affine", [True, False])
def test_torch_instance_norm_keeps_its_affine_flag(tmp_path: Path, affine: bool) -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, C, 3), nn.InstanceNorm2d(C, affine=affine))
    path = tmp_path / "in.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 3, 8, 8),), str(path), dynamo=False)
    data = json_of(invoke("net", str(path), "--json"))
    assert data["layers"][1]["layer"] == f"instancenorm(affine={affine})"
    assert data["total"]["params"] == sum(p.numel() for p in model.parameters())
