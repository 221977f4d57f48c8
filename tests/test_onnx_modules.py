"""`convcli net MODEL.onnx --depth N`: rows grouped by the module path in the nodes, the
marked rows of unknown operators, Gemm and MatMul in every orientation, and what the
totals say of an ONNX file. Graphs built with onnx.helper (no torch needed)."""

from __future__ import annotations

import math
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


def _save(tmp_path: Path, nodes: list[Any], inits: list[Any], shape: list[int]) -> str:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return str(path)


def _wide(*args: str) -> str:
    """The table as printed on a wide terminal (no layer's text wrapped)."""
    result = invoke("net", *args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


def _inferred(path: str) -> dict[str, tuple[int, ...]]:
    done = onnx.shape_inference.infer_shapes(onnx.load(path))
    return {
        v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
        for v in [*done.graph.value_info, *done.graph.output]
    }


def _two_blocks() -> tuple[list[Any], list[Any]]:
    """A stem, two residual blocks in a Sequential, a head: named as the TorchScript
    exporter names nodes (/layer1/layer1.0/conv1/Conv)."""

    def conv(name: str, x: str, out: str, weight: str) -> Any:
        return helper.make_node("Conv", [x, weight], [out], pads=[1, 1, 1, 1], name=name)

    nodes = [
        conv("/stem/Conv", "x", "s", "ws"),
        helper.make_node("Relu", ["s"], ["sr"], name="/relu/Relu"),
    ]
    inits = [_init("ws", 4, 3, 3, 3)]
    last = "sr"
    for block in range(2):
        scope = f"/layer1/layer1.{block}"
        nodes += [
            conv(f"{scope}/conv1/Conv", last, f"a{block}", f"w{block}a"),
            helper.make_node("Relu", [f"a{block}"], [f"r{block}"], name=f"{scope}/relu/Relu"),
            conv(f"{scope}/conv2/Conv", f"r{block}", f"b{block}", f"w{block}b"),
            helper.make_node("Add", [f"b{block}", last], [f"s{block}"], name=f"{scope}/Add"),
        ]
        inits += [_init(f"w{block}a", 4, 4, 3, 3), _init(f"w{block}b", 4, 4, 3, 3)]
        last = f"s{block}"
    nodes += [
        helper.make_node("GlobalAveragePool", [last], ["g"], name="/avgpool/GlobalAveragePool"),
        helper.make_node("Flatten", ["g"], ["f"], name="/Flatten"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1, name="/fc/Gemm"),
    ]
    inits += [_init("fw", 10, 4), _init("fb", 10)]
    return nodes, inits


def _elements(inits: list[Any], prefix: str) -> int:
    return sum(math.prod(t.dims) for t in inits if t.name.startswith(prefix))


def test_depth_1_is_one_row_per_top_level_module(tmp_path: Path) -> None:
    nodes, inits = _two_blocks()
    path = _save(tmp_path, nodes, inits, [1, 3, 8, 8])
    payload = json_of(invoke("net", path, "--json", "--depth", "1"))
    modules = payload["modules"]
    assert [m["module"] for m in modules] == ["stem", "relu", "layer1", "avgpool", "", "fc"]
    layer1 = modules[2]
    # The block's params are its initializers' elements; its MACs its two convs' per block.
    assert layer1["params"] == _elements(inits, "w0") + _elements(inits, "w1")
    assert layer1["macs"] == 4 * (4 * 4 * 9 * 8 * 8)
    assert layer1["layers"] == 8
    assert "children" not in layer1
    # Output of the module's last node (the second block's Add), as shape inference says.
    shapes = _inferred(path)
    assert tuple(layer1["output_shape"]) == shapes["s1"]
    assert modules[-1]["layer"] == "linear(10)"
    assert sum(m["params"] for m in modules) == payload["total"]["params"]
    assert sum(m["flops"] for m in modules) == payload["total"]["flops"]
    # Each block adds a 3x3 pair: 1 + 2 + 2 + 2 + 2 = 9 (the stem 3, each conv 2 more).
    assert layer1["receptive_field"] == [11, 11]


def test_depth_2_opens_the_sequential_into_its_blocks(tmp_path: Path) -> None:
    nodes, inits = _two_blocks()
    path = _save(tmp_path, nodes, inits, [1, 3, 8, 8])
    payload = json_of(invoke("net", path, "--json", "--depth", "2"))
    layer1 = payload["modules"][2]
    blocks = layer1["children"]
    assert [b["module"] for b in blocks] == ["layer1.0", "layer1.1"]
    assert [b["index"] for b in blocks] == ["3.1", "3.2"]
    assert [b["params"] for b in blocks] == [_elements(inits, f"w{i}") for i in range(2)]
    assert blocks[0]["receptive_field"] == [7, 7]
    # Each block's join adds 1 FLOP per value: 4x8x8 on top of its convs' and relu's.
    convs = 2 * (2 * 4 * 4 * 9 * 64)
    assert blocks[0]["flops"] == convs + 256 + 256
    text = _wide(path, "--depth", "2")
    assert "layer1.0 (4 layers)" in text and "stem: conv(4, k=3, p=1, bias=False)" in text
    assert "Rows are the modules named in the nodes" in " ".join(text.split())


def test_every_json_layer_names_its_node_and_module(tmp_path: Path) -> None:
    nodes, inits = _two_blocks()
    payload = json_of(invoke("net", _save(tmp_path, nodes, inits, [1, 3, 8, 8]), "--json"))
    join = payload["layers"][2]
    assert (join["node"], join["module"]) == ("/layer1/layer1.0/Add", "/layer1/layer1.0")
    inner = join["branches"][0][0]
    assert (inner["node"], inner["module"]) == (
        "/layer1/layer1.0/conv1/Conv",
        "/layer1/layer1.0/conv1",
    )
    assert payload["layers"][-2]["module"] == ""  # /Flatten: the root module's own op
    assert "modules" not in payload  # only with --depth


def test_the_dynamo_exporters_namespace_gives_the_classes(tmp_path: Path) -> None:
    """torch.onnx.export(..., dynamo=True) names nodes node_Conv_3 and writes the module
    path with each module's class in the node's ``namespace`` metadata."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="node_conv2d"),
        helper.make_node("Relu", ["c"], ["y"], name="node_relu"),
    ]
    helper.set_metadata_props(
        nodes[0],
        {
            "namespace": ": m.Net/body: torch.nn.modules.container.Sequential/body.0: "
            "torch.nn.modules.conv.Conv2d/conv2d: aten.conv2d.default"
        },
    )
    helper.set_metadata_props(
        nodes[1],
        {
            "namespace": ": m.Net/body: torch.nn.modules.container.Sequential/body.1: "
            "torch.nn.modules.activation.ReLU/relu: aten.relu.default"
        },
    )
    path = _save(tmp_path, nodes, [_init("w", 4, 3, 3, 3)], [1, 3, 8, 8])
    payload = json_of(invoke("net", path, "--json", "--depth", "1"))
    assert [(m["module"], m["class"], m["layers"]) for m in payload["modules"]] == [
        ("body", "Sequential", 2)
    ]
    assert payload["layers"][0]["module"] == "/body/body.0"
    assert "1  body: Sequential  " in _wide(path, "--depth", "1")


def test_names_without_a_module_path_fold_the_joins_and_say_so(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv_a"),
        helper.make_node("Relu", ["c"], ["r"], name="relu_a"),
        helper.make_node("Add", ["r", "x"], ["y"], name="add_a"),
    ]
    path = _save(tmp_path, nodes, [_init("w", 3, 3, 3, 3)], [1, 3, 8, 8])
    result = invoke("net", path, "--depth", "1")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "add (2 layers)" in text
    assert "The node names give no module path" in text
    assert "modules" not in json_of(invoke("net", path, "--json", "--depth", "1"))


def test_an_unknown_operator_has_a_marked_row(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/conv/Conv"),
        helper.make_node("Softsign", ["c"], ["s"], name="/act/Softsign"),
        helper.make_node("Relu", ["s"], ["y"], name="/relu/Relu"),
    ]
    path = _save(tmp_path, nodes, [_init("w", 4, 3, 3, 3)], [1, 3, 8, 8])
    payload = json_of(invoke("net", path, "--json"))
    marked = payload["layers"][1]
    assert (marked["unknown_op"], marked["node"], marked["flops"]) == (
        "Softsign",
        "/act/Softsign",
        0,
    )
    assert tuple(marked["output_shape"]) == _inferred(path)["s"]
    assert "unknown_op" not in payload["layers"][0]
    assert payload["onnx"]["uncounted"] == {"Softsign": 1}
    text = _wide(path)
    assert "2  Softsign ?" in text
    assert "?: an operator convcli does not know" in " ".join(text.split())
    folded = json_of(invoke("net", path, "--json", "--depth", "1"))["modules"]
    assert folded[1]["unknown_ops"] == ["Softsign"]
    assert "act: Softsign ?" in _wide(path, "--depth", "1")


def test_an_erf_of_a_gelu_is_no_marked_row(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Div", ["x", "r2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["x", "a"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["y"]),
    ]
    consts = [
        numpy_helper.from_array(np.array(value, np.float32), name)
        for name, value in (("r2", math.sqrt(2)), ("one", 1.0), ("half", 0.5))
    ]
    payload = json_of(invoke("net", _save(tmp_path, nodes, consts, [1, 3, 8, 8]), "--json"))
    assert [layer["layer"] for layer in payload["layers"]] == ["gelu"]
    assert payload["onnx"]["uncounted"] == {}


# -- Gemm and MatMul in every orientation ------------------------------------------------


def _transpose(x: str, out: str) -> Any:
    return helper.make_node("Transpose", [x], [out], perm=[1, 0])


@pytest.mark.parametrize(
    ("nodes", "inits", "bias"),
    [
        # transA=1 on a transposed input: x @ W again.
        (
            [_transpose("x", "t"), helper.make_node("Gemm", ["t", "w", "b"], ["y"], transA=1)],
            [("w", (8, 5)), ("b", (5,))],
            True,
        ),
        # The weight first, W @ x^T, transposed back.
        (
            [
                _transpose("x", "t"),
                helper.make_node("MatMul", ["w", "t"], ["m"]),
                helper.make_node("Relu", ["m"], ["r"]),
                _transpose("r", "y"),
            ],
            [("w", (5, 8))],
            False,
        ),
        # Gemm(W, x, transB=1): W @ x^T, the batch in its columns.
        (
            [helper.make_node("Gemm", ["w", "x"], ["m"], transB=1), _transpose("m", "y")],
            [("w", (5, 8))],
            False,
        ),
        # Gemm(W^T, x^T) with transA=1, transB=1.
        (
            [
                helper.make_node("Gemm", ["w", "x"], ["m"], transA=1, transB=1),
                _transpose("m", "y"),
            ],
            [("w", (8, 5))],
            False,
        ),
    ],
    ids=["transA", "matmul-weight-first", "gemm-weight-first", "both-transposed"],
)
def test_gemm_and_matmul_in_every_orientation_are_a_linear_layer(
    tmp_path: Path, nodes: list[Any], inits: list[tuple[str, tuple[int, ...]]], bias: bool
) -> None:
    tensors = [_init(name, *shape) for name, shape in inits]
    path = _save(tmp_path, nodes, tensors, [2, 8])
    payload = json_of(invoke("net", path, "--json"))
    linear = payload["layers"][0]
    assert linear["layer"] == ("linear(5)" if bias else "linear(5, bias=False)")
    assert linear["params"] == sum(math.prod(t.dims) for t in tensors)
    assert linear["macs"] == 2 * 8 * 5
    assert tuple(payload["output_shape"]) == _inferred(path)["y"]


@pytest.mark.parametrize(
    ("nodes", "weight", "shape", "words"),
    [
        ([helper.make_node("Gemm", ["x", "w"], ["y"], transA=1)], (2, 5), [2, 8], "transA=1"),
        ([helper.make_node("MatMul", ["w", "x"], ["y"])], (6, 4), [1, 3, 4, 4], "W @ x"),
        ([helper.make_node("Gemm", ["w", "x"], ["y"])], (5, 2), [2, 8], "batch axis"),
    ],
    ids=["transA-on-the-batch", "weight-first-4d", "weight-first-on-the-batch"],
)
def test_a_product_that_is_no_layer_is_refused_in_one_line(
    tmp_path: Path, nodes: list[Any], weight: tuple[int, ...], shape: list[int], words: str
) -> None:
    path = _save(tmp_path, nodes, [_init("w", *weight)], shape)
    assert_usage_error(invoke("net", path), "node y", words)


# -- what the totals say of an ONNX file -------------------------------------------------


def test_the_totals_say_what_the_file_holds(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"]),
    ]
    inits = [_init("w", 4, 3, 3, 3), *(_init(n, 4) for n in ("s", "b", "m", "v"))]
    path = _save(tmp_path, nodes, inits, [1, 3, 8, 8])
    total = json_of(invoke("net", path, "--json"))["total"]
    # Scale and shift are weights; mean and variance buffers; no counter in ONNX.
    assert total["params"] == 4 * 27 + 8
    assert total["buffers"] == 8
    assert total["param_bytes"] == (4 * 27 + 16) * 4
    assert total["non_trainable_params"] is None
    text = " ".join(invoke("net", path).stdout.split())
    assert "as printed" not in text and "--no-bias" not in text and "counter" not in text
    assert "BatchNorm buffers 8 (running mean and variance)" in text
    assert "ONNX keeps no requires_grad" in text
    assert_usage_error(invoke("net", path, "--no-bias"), "--no-bias", "ONNX")
    assert_usage_error(invoke("net", path, "--in-order"), "--in-order", "ONNX")


def test_a_module_path_thousands_deep_is_cut_not_a_crash(tmp_path: Path) -> None:
    deep = "/" + "/".join(f"m{i}" for i in range(5000)) + "/Conv"
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name=deep),
        helper.make_node("Relu", ["c"], ["y"], name="/relu/Relu"),
    ]
    path = _save(tmp_path, nodes, [_init("w", 4, 3, 3, 3)], [1, 3, 8, 8])
    payload = json_of(invoke("net", path, "--json", "--depth", "100000"))
    row = payload["modules"][0]
    levels = 1
    while "children" in row:
        row, levels = row["children"][0], levels + 1
    assert levels == 64 and row["layer"] == "conv(4, k=3, bias=False)"
    assert payload["layers"][0]["module"].count("/") == 64
    assert invoke("net", path, "--depth", "100000").exit_code == 0


def test_at_says_which_module_row_holds_the_traced_layer(tmp_path: Path) -> None:
    nodes, inits = _two_blocks()
    path = _save(tmp_path, nodes, inits, [1, 3, 8, 8])
    # Layer 3 of --depth all is the first block's add (stem, relu, then the block).
    everything = json_of(invoke("net", path, "--json"))["layers"]
    assert everything[2]["module"] == "/layer1/layer1.0"
    for depth, row, name in (("1", "3", "layer1"), ("2", "3.1", "layer1.0")):
        text = " ".join(_wide(path, "--depth", depth, "--at", "3:2,2").split())
        assert (
            f"Layer 3 (--at counts the layers of --depth all) is in row {row} here, {name}." in text
        )


def test_a_node_without_a_module_sits_with_its_neighbours(tmp_path: Path) -> None:
    """An optimiser's node (no module in its name) between two nodes of one block is in
    that block; between two top-level modules, in neither."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1], name="/body/b0/conv/Conv"),
        helper.make_node("Relu", ["a"], ["r"], name="Relu_7"),
        helper.make_node("Conv", ["r", "w2"], ["c"], pads=[1, 1, 1, 1], name="/body/b0/conv2/Conv"),
        helper.make_node("Sigmoid", ["c"], ["s"], name="Sigmoid_9"),
        helper.make_node("Conv", ["s", "w3"], ["y"], name="/head/Conv"),
    ]
    inits = [_init("w1", 4, 3, 3, 3), _init("w2", 4, 4, 3, 3), _init("w3", 2, 4, 1, 1)]
    path = _save(tmp_path, nodes, inits, [1, 3, 8, 8])
    modules = json_of(invoke("net", path, "--json", "--depth", "2"))["modules"]
    assert [(m["module"], m["layers"]) for m in modules] == [("body", 3), ("", 1), ("head", 1)]
    assert modules[0]["children"][0]["module"] == "b0"
    assert modules[1]["layer"] == "sigmoid"


def test_damaged_names_and_metadata_are_refused_in_one_line_never_a_crash(
    tmp_path: Path,
) -> None:
    """Bytes flipped (seeded) in the node names and module metadata of the docs sample
    the dynamo exporter wrote: --depth 2 and its --json exit 0 or 2, never 70."""
    root = Path(__file__).resolve().parent.parent
    data = (root / "samples" / "resnet18_w4_224.onnx").read_bytes()
    spots = [i for i in range(len(data)) if data.startswith((b"namespace", b"node_"), i)]
    assert len(spots) > 50
    rng = np.random.default_rng(11)
    path = tmp_path / "damaged.onnx"
    outcomes = set()
    for _ in range(40):
        damaged = bytearray(data)
        for start in rng.choice(spots, size=int(rng.choice([1, 3, 8]))):
            spot = int(start) + int(rng.integers(0, 160))
            damaged[spot % len(data)] = int(rng.integers(0, 256))
        path.write_bytes(bytes(damaged))
        for args in (("--depth", "2"), ("--json", "--depth", "2")):
            result = invoke("net", str(path), *args)
            assert result.exit_code in (0, 2), (result.exit_code, result.output)
            if result.exit_code == 2:
                assert_usage_error(result)
            outcomes.add(result.exit_code)
            assert "\x1b" not in result.stdout
    assert outcomes == {0, 2}
