"""`convcli net MODEL.onnx`: graphs built with onnx.helper (no torch needed) and models
exported by PyTorch, checked against onnx.shape_inference and torch's own forward."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clitools import assert_usage_error, invoke, json_of

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _init(name: str, *shape: int) -> Any:
    rng = np.random.default_rng(len(name))
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def _model(
    nodes: list[Any], inits: list[Any], shape: list[Any], out: str = "y", opset: int = 17
) -> Any:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _save(tmp_path: Path, model: Any, name: str = "m.onnx") -> str:
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def _inferred(model: Any) -> dict[str, tuple[int, ...]]:
    done = onnx.shape_inference.infer_shapes(model, data_prop=True)
    return {
        v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
        for v in [*done.graph.value_info, *done.graph.output]
    }


def _leaves(payload: dict[str, Any]) -> list[dict[str, Any]]:
    layers = payload["layers"]
    return [
        layer
        for i, layer in enumerate(layers)
        if i + 1 == len(layers) or layers[i + 1]["level"] <= layer["level"]
    ]


def _conv_chain() -> tuple[Any, list[str]]:
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[0, 1, 2, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node(
            "Conv", ["r1", "w2"], ["c2"], auto_pad="SAME_UPPER", strides=[2, 2], group=2
        ),
        helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        helper.make_node(
            "MaxPool", ["r2"], ["p"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1
        ),
        helper.make_node("Conv", ["p", "w3"], ["c3"], auto_pad="SAME_LOWER", dilations=[2, 2]),
        helper.make_node("BatchNormalization", ["c3", "s", "bb", "m", "v"], ["bn"]),
        helper.make_node("GlobalAveragePool", ["bn"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    inits = [
        _init("w1", 8, 3, 3, 3),
        _init("b1", 8),
        _init("w2", 12, 4, 4, 4),
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
        _init("w3", 6, 12, 3, 3),
        *(_init(n, 6) for n in ("s", "bb", "m", "v")),
        _init("fw", 5, 6),
        _init("fb", 5),
    ]
    return _model(nodes, inits, [1, 3, 33, 31]), [
        "c1",
        "r1",
        "c2",
        "r2",
        "p",
        "c3",
        "bn",
        "g",
        "f",
        "y",
    ]


def test_a_chain_of_common_ops_matches_shape_inference(tmp_path: Path) -> None:
    model, outputs = _conv_chain()
    payload = json_of(invoke("net", _save(tmp_path, model), "--json"))
    expected = _inferred(model)
    # Asymmetric pads (c1's, c2's SAME_UPPER at stride 2) become zeropad > conv.
    leaves = [layer for layer in _leaves(payload) if not layer["layer"].startswith("zeropad")]
    shapes = [tuple(layer["output_shape"]) for layer in leaves]
    assert shapes == [expected[name] for name in outputs]
    params = sum(
        int(np.prod(t.dims)) for t in model.graph.initializer if t.name not in ("lo", "hi")
    )
    # BatchNormalization's running mean and variance are buffers, not params.
    assert payload["total"]["params"] == params - 12
    rows = {layer["layer"].split("(")[0]: layer for layer in leaves}
    assert "relu6" in rows
    c1 = expected["c1"]
    assert leaves[0]["macs"] == math.prod(c1) * 3 * 3 * 3
    assert payload["onnx"]["uncounted"] == {}


def test_params_of_a_chain_are_the_initializers_elements(tmp_path: Path) -> None:
    model, _ = _conv_chain()
    payload = json_of(invoke("net", _save(tmp_path, model), "--json"))
    weights = sum(
        int(np.prod(t.dims))
        for t in model.graph.initializer
        if t.name in ("w1", "b1", "w2", "w3", "fw", "fb")
    )
    # BatchNormalization: scale and bias are params (2C); mean and variance buffers.
    assert sum(layer["params"] for layer in _leaves(payload)) == weights + 2 * 6


def test_joins_residual_concat_and_silu(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["a", "x"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["sg"]),
        helper.make_node("Mul", ["s", "sg"], ["silu"]),
        helper.make_node("Conv", ["silu", "w2"], ["b"]),
        helper.make_node("MaxPool", ["silu"], ["mp"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["b", "mp"], ["y"], axis=1),
    ]
    model = _model(nodes, [_init("w1", 4, 4, 3, 3), _init("w2", 2, 4, 1, 1)], [1, 4, 10, 10])
    payload = json_of(invoke("net", _save(tmp_path, model), "--json"))
    assert tuple(payload["output_shape"]) == _inferred(model)["y"] == (1, 6, 10, 10)
    assert payload["total"]["params"] == 4 * 4 * 9 + 2 * 4
    assert payload["total"]["macs"] == 100 * 4 * 4 * 9 + 100 * 2 * 4
    assert payload["layers"][0]["layer"].startswith("add")


def test_conv_transpose_output_padding_and_output_shape(tmp_path: Path) -> None:
    nodes = [
        helper.make_node(
            "ConvTranspose",
            ["x", "w"],
            ["t"],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            output_padding=[1, 1],
        ),
        helper.make_node(
            "ConvTranspose", ["t", "w2"], ["y"], strides=[2, 2], output_shape=[20, 21]
        ),
    ]
    model = _model(nodes, [_init("w", 3, 5, 3, 3), _init("w2", 5, 2, 2, 2)], [1, 3, 5, 5])
    payload = json_of(invoke("net", _save(tmp_path, model), "--json"))
    expected = _inferred(model)
    assert [tuple(layer["output_shape"]) for layer in payload["layers"]] == [
        expected["t"],
        expected["y"],
    ]


def test_symbolic_dims_need_the_input_shape_and_the_error_names_them(tmp_path: Path) -> None:
    model, _ = _conv_chain()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param = "N"
    dims[2].dim_param = "height"
    path = _save(tmp_path, model)
    assert_usage_error(invoke("net", path), "N, height", "--input-shape")
    payload = json_of(invoke("net", path, "--input-shape", "2x3x33x31", "--json"))
    assert payload["output_shape"] == [2, 5]


def test_an_unknown_operator_is_named_never_skipped(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Erf", ["c"], ["e"]),
        helper.make_node("TopK", ["e", "k"], ["y", "idx"], axis=1),
    ]
    k = numpy_helper.from_array(np.array([2], np.int64), "k")
    model = _model(nodes, [_init("w", 4, 3, 3, 3), k], [1, 3, 8, 8])
    path = _save(tmp_path, model)
    payload = json_of(invoke("net", path, "--json"))
    assert payload["onnx"]["uncounted"] == {"Erf": 1, "TopK": 1}
    assert payload["onnx"]["stopped_at"]["op"] == "TopK"
    result = invoke("net", path)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Erf x1, TopK x1; 2 nodes" in text
    assert "Stopped at node" in text and "(TopK)" in text


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b"not an onnx file at all \xff\xfe" * 10), "not an ONNX model"),
        (lambda p: p.write_bytes(_conv_chain()[0].SerializeToString()[:200]), "ONNX"),
    ],
)
def test_hostile_bytes(tmp_path: Path, make: Any, words: str) -> None:
    path = tmp_path / "bad.onnx"
    make(path)
    assert_usage_error(invoke("net", str(path)), words)


def test_hostile_cycle_missing_input_huge_dims_and_external_data(tmp_path: Path) -> None:
    cycle = _model(
        [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
        [],
        [1, 3, 4, 4],
        out="b",
    )
    assert_usage_error(invoke("net", _save(tmp_path, cycle, "c.onnx")), "before it is made")
    missing = _model([helper.make_node("Add", ["x", "ghost"], ["y"])], [], [1, 3, 4, 4])
    assert_usage_error(invoke("net", _save(tmp_path, missing, "m.onnx")), "'ghost'")
    huge = _model([helper.make_node("Relu", ["x"], ["y"])], [], [1, 3, 1 << 40, 4])
    assert_usage_error(invoke("net", _save(tmp_path, huge, "h.onnx")), "out of range")
    model, _ = _conv_chain()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    del weight.float_data[:]
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    assert_usage_error(
        invoke("net", _save(tmp_path, model, "e.onnx")), "outside the model's folder"
    )


def test_the_file_size_goes_through_the_budget_before_parsing(tmp_path: Path) -> None:
    model, _ = _conv_chain()
    path = _save(tmp_path, model)
    assert_usage_error(invoke("net", path, "--max-memory", "100"), "memory budget")


def test_without_onnx_exit_2_and_the_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = _conv_chain()
    path = _save(tmp_path, model)
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert_usage_error(invoke("net", path), "convcli[onnx]")


def test_external_data_is_not_loaded(tmp_path: Path) -> None:
    model, _ = _conv_chain()
    onnx.save_model(
        model,
        str(tmp_path / "ext.onnx"),
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    (tmp_path / "weights.bin").write_bytes(b"")  # emptied: never read
    payload = json_of(invoke("net", str(tmp_path / "ext.onnx"), "--json"))
    assert payload["output_shape"] == [1, 5]


def test_a_weight_shared_by_two_nodes_is_counted_once(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Identity", ["w"], ["w_again"]),
        helper.make_node("Conv", ["a", "w_again"], ["y"], pads=[1, 1, 1, 1]),
    ]
    model = _model(nodes, [_init("w", 4, 4, 3, 3)], [1, 4, 8, 8])
    payload = json_of(invoke("net", _save(tmp_path, model), "--json"))
    assert payload["total"]["params"] == 2 * 4 * 4 * 9
    assert payload["onnx"]["shared_params"] == 4 * 4 * 9
    assert payload["onnx"]["params_counted_once"] == 4 * 4 * 9


def test_erf_gelu_and_a_channels_last_mlp(tmp_path: Path) -> None:
    """convnext's block as exporters write it: Transpose to NHWC, LayerNormalization,
    MatMul + Add, GELU as x * (1 + erf(x / sqrt 2)) * 0.5, MatMul, Transpose back."""

    def scalar(name: str, value: float) -> Any:
        return numpy_helper.from_array(np.array(value, np.float32), name)

    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", ["t", "g", "b"], ["ln"], axis=-1),
        helper.make_node("MatMul", ["ln", "w1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["h"]),
        helper.make_node("Div", ["h", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["e1"]),
        helper.make_node("Mul", ["h", "e1"], ["hm"]),
        helper.make_node("Mul", ["hm", "half"], ["gelu"]),
        helper.make_node("MatMul", ["gelu", "w2"], ["m2"]),
        helper.make_node("Transpose", ["m2"], ["back"], perm=[0, 3, 1, 2]),
        helper.make_node("Mul", ["back", "scale"], ["s"]),
        helper.make_node("Add", ["s", "x"], ["y"]),
    ]
    inits = [
        _init("g", 8),
        _init("b", 8),
        _init("w1", 8, 32),
        _init("b1", 32),
        _init("w2", 32, 8),
        _init("scale", 8, 1, 1),
        scalar("sqrt2", 2**0.5),
        scalar("one", 1.0),
        scalar("half", 0.5),
    ]
    model = _model(nodes, inits, [1, 8, 6, 6])
    payload = json_of(invoke("net", _save(tmp_path, model), "--json"))
    assert payload["output_shape"] == [1, 8, 6, 6]
    assert payload["onnx"]["uncounted"] == {}
    join = payload["layers"][0]
    assert join["join"] == "add"
    layers = [layer["layer"] for layer in join["branches"][0]]
    assert layers == ["layernorm2d", "conv(32, k=1)", "gelu", "conv(8, k=1, bias=False)"]
    assert payload["total"]["macs"] == 36 * (8 * 32 + 32 * 8)
    assert payload["total"]["params"] == 16 + 8 * 32 + 32 + 32 * 8
    assert payload["onnx"]["elementwise_weights"] == 8


def test_huge_dims_in_an_initializer_are_refused_before_any_walk(tmp_path: Path) -> None:
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 3, 3, 3])
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"])], [weight], [1, 3, 8, 8])
    assert_usage_error(invoke("net", _save(tmp_path, model)), "out of range")


def test_beside_onnx_tool_on_the_docs_sample() -> None:
    """onnx-tool's params are the initializers' elements (each once), as convcli's
    params_counted_once; its Conv and Gemm MACs add one per output value for the bias."""
    onnx_tool = pytest.importorskip("onnx_tool")
    path = str(Path(__file__).resolve().parent.parent / "samples" / "resnet18_w4.onnx")
    payload = json_of(invoke("net", path, "--json"))
    model = onnx_tool.Model(path)
    model.graph.shape_infer({"input.1": np.zeros((1, 3, 64, 64), np.float32)})
    model.graph.profile()
    assert payload["onnx"]["params_counted_once"] == model.graph.params
    weighted = sum(
        node.macs[0] for node in model.graph.nodemap.values() if node.op_type in ("Conv", "Gemm")
    )
    biases = 0
    for layer in payload["layers"]:
        for row in [layer, *(r for branch in layer.get("branches", []) for r in branch)]:
            if row["layer"].startswith(("conv", "linear")):
                biases += math.prod(row["output_shape"])
    assert payload["total"]["macs"] + biases == weighted


def test_damaged_files_are_refused_in_one_line_never_a_crash(tmp_path: Path) -> None:
    """Bytes of the docs sample flipped at random (seeded): names that are not UTF-8,
    attributes of the wrong type, nodes without outputs... exit 0 or 2, never 70."""
    data = (Path(__file__).resolve().parent.parent / "samples" / "resnet18_w4.onnx").read_bytes()
    rng = np.random.default_rng(7)
    path = tmp_path / "damaged.onnx"
    refused = 0
    for _ in range(80):
        damaged = bytearray(data)
        for spot in rng.integers(0, len(data), size=int(rng.choice([1, 5, 20]))):
            damaged[spot] = int(rng.integers(0, 256))
        path.write_bytes(bytes(damaged))
        result = invoke("net", str(path), "--json")
        assert result.exit_code in (0, 2), (result.exit_code, result.output)
        if result.exit_code == 2:
            assert_usage_error(result)
            refused += 1
    assert refused > 0


def test_more_ops_match_shape_inference(tmp_path: Path) -> None:
    pads = numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 3, 0], np.int64), "pads")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"]),
        helper.make_node("Conv", ["p", "w"], ["c"], group=2, dilations=[2, 1]),
        helper.make_node("InstanceNormalization", ["c", "s8", "b8"], ["i"]),
        helper.make_node("PRelu", ["i", "slope"], ["r"]),
        helper.make_node("GroupNormalization", ["r", "s8", "b8"], ["gn"], num_groups=4),
        helper.make_node("Resize", ["gn", "", "scales"], ["up"], mode="linear"),
        helper.make_node(
            "AveragePool", ["up"], ["ap"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]
        ),
        helper.make_node("HardSwish", ["ap"], ["hs"]),
        helper.make_node("GlobalMaxPool", ["hs"], ["gm"]),
        helper.make_node("Flatten", ["gm"], ["f"]),
        helper.make_node("Softmax", ["f"], ["y"], axis=1),
    ]
    inits = [pads, scales, _init("w", 8, 2, 3, 3), _init("s8", 8), _init("b8", 8)]
    inits.append(_init("slope", 8, 1, 1))
    model = _model(nodes, inits, [1, 4, 9, 10], opset=21)
    payload = json_of(invoke("net", _save(tmp_path, model), "--json"))
    # onnx infers no shape after GroupNormalization (a function op): told its output's.
    hinted = onnx.ModelProto()
    hinted.CopyFrom(model)
    shape_r = list(_inferred(model)["r"])
    hinted.graph.value_info.append(helper.make_tensor_value_info("gn", TensorProto.FLOAT, shape_r))
    expected = _inferred(hinted)
    names = ["p", "c", "i", "r", "gn", "up", "ap", "hs", "gm", "f", "y"]
    assert [tuple(layer["output_shape"]) for layer in _leaves(payload)] == [
        expected[name] for name in names
    ]
    assert payload["onnx"]["uncounted"] == {}
    assert payload["layers"][5]["layer"].startswith("upsample")
    # conv weight, two norms' scale and bias, PRelu's slope
    assert payload["total"]["params"] == 8 * 2 * 9 + 2 * (8 + 8) + 8


def test_an_input_shape_the_weights_cannot_read_is_refused(tmp_path: Path) -> None:
    model, _ = _conv_chain()
    path = _save(tmp_path, model)
    assert_usage_error(invoke("net", path, "--input-shape", "1x4x33x31"), "reads 3 channels")
    # CxHxW means N=1, as for specs.
    payload = json_of(invoke("net", path, "--input-shape", "3x33x31", "--json"))
    assert payload["output_shape"] == [1, 5]
