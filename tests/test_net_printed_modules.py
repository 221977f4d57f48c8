"""`convcli net` of pasted ``print(model)`` text with ``--depth N``: rows are the modules
the text names (``(features): Sequential(`` ... ``(0): Conv2d(``), as torchinfo's depth.

The torch tests print small models with PyTorch, read the printout, and compare each row
at depth 1 and 2 with ``torchinfo.summary(model, input_size, depth=N)``'s summary_list
(its rows of depth 1..N: name, params summed over the module, output shape). The others
read printout text written here, without torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clitools import invoke, json_of


def _rows(modules: list[dict[str, Any]]) -> list[tuple[int, str, int, list[int]]]:
    """convcli's module rows in table order: level, the module's own name (the last part
    of features.0), params, output shape. A row of no module (the add of a block's own
    forward) is left out: torchinfo lists modules only."""
    rows = []
    for entry in modules:
        name = entry["module"].rsplit(".", 1)[-1]
        if name:
            rows.append((entry["level"], name, entry["params"], entry["output_shape"]))
        rows += _rows(entry.get("children", []))
    return rows


def _torchinfo_rows(model: Any, shape: tuple[int, ...], depth: int) -> list[Any]:
    torchinfo = pytest.importorskip("torchinfo")
    summary = torchinfo.summary(model, shape, depth=depth, verbose=0)
    return [
        (info.depth, info.var_name, info.num_params, list(info.output_size))
        for info in summary.summary_list
        if 1 <= info.depth <= depth
    ]


def _compare(tmp_path: Path, model: Any, shape: tuple[int, ...], *extra: str) -> None:
    path = tmp_path / "model.txt"
    path.write_text(str(model), encoding="utf-8")
    shape_text = "x".join(map(str, shape))
    for depth in (1, 2):
        args = ("net", f"@{path}", "--input-shape", shape_text, "--depth", str(depth), "--json")
        payload = json_of(invoke(*args, *extra))
        assert _rows(payload["modules"]) == _torchinfo_rows(model, shape, depth)
        # The table shows the same rows: each module's name in its row, in order.
        table = invoke(*args[:-1], *extra, env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert table.exit_code == 0, table.output
        at = 0
        for entry in _flat(payload["modules"]):
            if entry["module"]:
                at = table.stdout.index(f" {entry['module']}: ", at) + 1


def _flat(modules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for entry in modules:
        found.append(entry)
        found += _flat(entry.get("children", []))
    return found


@pytest.mark.torch
def test_a_vgg_like_model_read_in_order_folds_as_torchinfo(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torch import nn

    class VGG(nn.Module):  # torchvision's layout; its flatten a module, to be printed
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1),
                nn.BatchNorm2d(16),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )
            self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
            self.flatten = nn.Flatten()
            self.classifier = nn.Sequential(
                nn.Linear(64, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10)
            )

        def forward(self, x: Any) -> Any:
            return self.classifier(self.flatten(self.avgpool(self.features(x))))

    _compare(tmp_path, VGG(), (1, 3, 20, 18), "--in-order")


@pytest.mark.torch
def test_nested_sequentials_fold_as_torchinfo(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torch import nn

    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU()),
        nn.Sequential(
            nn.Sequential(nn.Conv2d(4, 6, 3, stride=2), nn.ReLU()),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Sequential(nn.Conv2d(6, 6, 1), nn.Sequential(nn.Conv2d(6, 2, 1))),
        ),
        nn.Flatten(),
        nn.Linear(2 * 3 * 2, 3),
    )
    _compare(tmp_path, model, (2, 1, 13, 12))


@pytest.mark.torch
def test_basic_blocks_read_in_order_fold_as_torchinfo(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torch import nn

    class BasicBlock(nn.Module):  # torchvision's, without a downsample
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x: Any) -> Any:
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + x)

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            self.layer1 = nn.Sequential(BasicBlock(8), BasicBlock(8))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(8, 5)

        def forward(self, x: Any) -> Any:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            return self.fc(self.flatten(self.avgpool(self.layer1(x))))

    _compare(tmp_path, ResNet(), (1, 3, 32, 30), "--in-order")


@pytest.mark.torch
def test_the_vgg_sample_is_torchs_print_and_folds_as_torchinfo(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from collections import OrderedDict

    from torch import nn

    model = nn.Sequential(
        OrderedDict(
            features=nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ),
            avgpool=nn.AdaptiveAvgPool2d((4, 4)),
            flatten=nn.Flatten(),
            classifier=nn.Sequential(
                nn.Linear(512, 64), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(64, 10)
            ),
        )
    )
    sample = Path(__file__).parent.parent / "samples" / "printed_vgg.txt"
    assert sample.read_text(encoding="utf-8") == str(model) + "\n"
    _compare(tmp_path, model, (1, 3, 32, 32))


# -- without torch: text as print(model) writes it ------------------------------------------

NESTED = """Sequential(
  (stem): Sequential(
    (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (1): ReLU()
  )
  (body): Sequential(
    (0): Sequential(
      (0): Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
      (1): ReLU()
    )
    (1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  )
  (head): Linear(in_features=4, out_features=2, bias=True)
)
"""


def test_every_layer_names_its_module_as_named_modules_does(tmp_path: Path) -> None:
    path = tmp_path / "nested.txt"
    path.write_text(NESTED, encoding="utf-8")
    payload = json_of(invoke("net", f"@{path}", "--input-shape", "1x1x8x8", "--json"))
    modules = [layer["module"] for layer in payload["layers"]]
    assert modules == ["stem.0", "stem.1", "body.0.0", "body.0.1", "body.1", "head"]
    assert "modules" not in payload  # no depth asked for


def test_depth_1_and_2_fold_by_module(tmp_path: Path) -> None:
    path = tmp_path / "nested.txt"
    head = "(head): Linear(in_features=4, out_features=2, bias=True)"
    path.write_text(NESTED.replace(head, "(head): Conv2d(4, 2, kernel_size=(1, 1))"))
    args = ("net", f"@{path}", "--input-shape", "1x1x8x8", "--json", "--depth")
    one = json_of(invoke(*args, "1"))["modules"]
    assert [(m["module"], m["class"], m["layers"]) for m in one] == [
        ("stem", "Sequential", 2),
        ("body", "Sequential", 3),
        ("head", "Conv2d", 1),
    ]
    # stem: 1*4*9 + 4; body: 4*4*9 + 4; head: 4*2 + 2.
    assert [m["params"] for m in one] == [40, 148, 10]
    assert [m["output_shape"] for m in one] == [[1, 4, 8, 8], [1, 4, 4, 4], [1, 2, 4, 4]]
    assert all("children" not in m for m in one)
    two = json_of(invoke(*args, "2"))["modules"]
    body = two[1]["children"]
    assert [(m["module"], m["class"], m["layers"]) for m in body] == [
        ("body.0", "Sequential", 2),
        ("body.1", "MaxPool2d", 1),
    ]
    assert body[0]["output_shape"] == [1, 4, 8, 8]
    table = invoke(*args[:-2], "--depth", "1", env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert table.exit_code == 0, table.output
    assert "stem: Sequential" in table.stdout and "body: Sequential" in table.stdout
    assert "Conv2d(4, 4" not in table.stdout  # folded into body
    assert "modules the pasted print(model) text names" in " ".join(table.stdout.split())


def test_pasted_text_as_the_spec_folds_too() -> None:
    result = invoke("net", NESTED, "--input-shape", "1x1x8x8", "--depth", "1", "--json")
    assert [m["module"] for m in json_of(result)["modules"]] == ["stem", "body", "head"]


def test_depth_all_still_lists_every_layer(tmp_path: Path) -> None:
    path = tmp_path / "nested.txt"
    path.write_text(NESTED, encoding="utf-8")
    result = invoke(
        "net", f"@{path}", "--input-shape", "1x1x8x8", "--depth", "all",
        env={"COLUMNS": "200", "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Conv2d(") == 2 and "stem: Sequential" not in result.stdout


def test_a_spec_without_module_names_folds_its_joins_as_before() -> None:
    spec = "conv(4, k=3, p=1) > residual(conv(4, k=3, p=1) > relu) > gap"
    payload = json_of(invoke("net", spec, "--input-shape", "1x1x6x6", "--depth", "1", "--json"))
    assert "modules" not in payload
    assert all("module" not in layer for layer in payload["layers"])
    table = invoke("net", spec, "--input-shape", "1x1x6x6", "--depth", "1")
    assert "residual (2 layers)" in table.stdout


def test_a_layer_written_without_a_name_sits_with_its_neighbours(tmp_path: Path) -> None:
    # A flatten typed in by hand between two named top-level modules: the root's own.
    text = """Net(
  (features): Sequential(
    (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))
  )
  flatten
  (fc): Linear(in_features=8, out_features=3, bias=True)
)
"""
    path = tmp_path / "net.txt"
    path.write_text(text, encoding="utf-8")
    args = ("net", f"@{path}", "--input-shape", "1x1x4x4", "--in-order", "--depth", "1")
    payload = json_of(invoke(*args, "--json"))
    assert [(m["module"], m["layer"]) for m in payload["modules"]] == [
        ("features", None),
        ("", "flatten"),
        ("fc", "Linear(in_features=8, out_features=3, bias=True)"),
    ]
    assert [layer["module"] for layer in payload["layers"]] == ["features.0", None, "fc"]
    table = invoke(*args, env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert "a layer the text writes without one" in " ".join(table.stdout.split())


def test_a_printed_squeeze_excitation_is_one_module(tmp_path: Path) -> None:
    text = """Sequential(
  (block): Sequential(
    (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (1): SqueezeExcitation(
      (avgpool): AdaptiveAvgPool2d(output_size=1)
      (fc1): Conv2d(8, 2, kernel_size=(1, 1), stride=(1, 1))
      (fc2): Conv2d(2, 8, kernel_size=(1, 1), stride=(1, 1))
      (activation): ReLU()
      (scale_activation): Sigmoid()
    )
  )
)
"""
    path = tmp_path / "se.txt"
    path.write_text(text, encoding="utf-8")
    args = ("net", f"@{path}", "--input-shape", "1x3x5x5", "--json", "--depth", "2")
    payload = json_of(invoke(*args))
    assert [layer["module"] for layer in payload["layers"]] == ["block.0", "block.1"]
    (block,) = payload["modules"]
    se = block["children"][1]
    # fc1: 8*2 + 2, fc2: 2*8 + 8.
    assert (se["module"], se["class"], se["params"]) == ("block.1", "SqueezeExcitation", 42)


def test_a_module_path_thousands_deep_is_cut_not_a_crash(tmp_path: Path) -> None:
    levels = 3000
    text = "Sequential(\n"
    text += "".join(f"(m{i}): Sequential(\n" for i in range(levels))
    text += "(0): ReLU()\n" + ")\n" * (levels + 1)
    path = tmp_path / "deep.txt"
    path.write_text(text, encoding="utf-8")
    result = invoke("net", f"@{path}", "--input-shape", "1x1x2x2", "--depth", "100000", "--json")
    modules = json_of(result)["modules"]
    depth = 0
    while modules:
        depth += 1
        modules = modules[0].get("children", [])
    assert depth == 64  # MAX_MODULE_LEVELS: the rest folds into the last


def test_a_compressed_repeat_is_one_module_a_copy(tmp_path: Path) -> None:
    # "(0-2): 3 x Conv2d(...)" (as ModuleList prints repeats) stands for the three lines.
    conv = "Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    lines = "".join(f"    ({i}): {conv}\n" for i in range(3))
    text = "Sequential(\n  (body): Sequential(\n{lines}    (3): ReLU()\n  )\n)\n"
    trees = []
    for body in (f"    (0-2): 3 x {conv}\n", lines):
        path = tmp_path / "model.txt"
        path.write_text(text.format(lines=body), encoding="utf-8")
        args = ("net", f"@{path}", "--input-shape", "1x4x6x6", "--depth", "2", "--json")
        payload = json_of(invoke(*args))
        trees.append((payload["modules"], [layer["module"] for layer in payload["layers"]]))
    assert trees[0] == trees[1]
    assert trees[0][1] == ["body.0", "body.1", "body.2", "body.3"]
