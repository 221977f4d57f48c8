"""``net MODEL.onnx --training`` against the PyTorch model the file was exported from.

A model exported in training mode keeps its BatchNorm (an inference export folds it into
the convolutions): what ``net`` reads back keeps what autograd keeps, deduplicated by
storage, and twice its backward MACs are FlopCounterMode's count (but for that counter's
dW of a grouped convolution, g times too many).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from clitools import invoke, json_of

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

nn = torch.nn
SHAPE = (2, 3, 16, 16)


def _model() -> Any:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.Hardswish(), nn.Upsample(scale_factor=2),
        nn.Conv2d(8, 8, 1), nn.Sigmoid(), nn.ConvTranspose2d(8, 4, 2, stride=2),
        nn.LeakyReLU(), nn.AvgPool2d(2), nn.Conv2d(4, 6, 1), nn.Hardsigmoid(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3), nn.Softmax(1),
    )  # fmt: skip


def test_a_training_export_keeps_what_autograd_keeps(tmp_path: Path) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = _model()
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.randn(*SHAPE),), str(path), dynamo=False,
            training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
        )  # fmt: skip
    data = json_of(invoke("net", str(path), "--training", "--json"))
    assert [row["layer"].split("(")[0] for row in data["layers"]][:3] == ["conv", "bn", "relu6"]
    model.train()
    kept: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = model(torch.randn(*SHAPE))
    with FlopCounterMode(display=False) as backward:
        y.sum().backward()
    training = data["training"]
    assert training["kept_bytes"] == sum(kept.values())
    grouped = next(row["macs"] for row in data["layers"] if "g=2" in row["layer"])
    assert 2 * training["backward_macs"] + 2 * grouped == backward.get_total_flops()
    assert training["param_bytes"] == 4 * sum(p.numel() for p in model.parameters())
