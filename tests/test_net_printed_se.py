"""Pasted ``print(model)`` text with torchvision's SqueezeExcitation in it.

Its forward is torchvision's (pool, fc1, activation, fc2, scale_activation, times the
input), so its printout is read as ``se(...)``; read in printed order (``--in-order``) it
gave a 1x1 output and every later shape wrong. The module is written here as torchvision
writes it, printed by PyTorch, and the shapes and params compared with PyTorch's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of

pytestmark = pytest.mark.torch


def _squeeze_excitation(channels: int, squeeze: int, act: Any, gate: Any) -> Any:
    import torch
    from torch import nn

    class SqueezeExcitation(nn.Module):  # torchvision.ops.SqueezeExcitation
        def __init__(self) -> None:
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(channels, squeeze, 1)
            self.fc2 = nn.Conv2d(squeeze, channels, 1)
            self.activation = act()
            self.scale_activation = gate()

        def forward(self, x: torch.Tensor) -> Any:
            scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
            return self.scale_activation(scale) * x

    return SqueezeExcitation()


@pytest.mark.parametrize("in_order", [False, True])
def test_a_printed_squeeze_excitation_is_read_as_se(tmp_path: Path, in_order: bool) -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    class Block(nn.Module):  # a custom class around it, as MobileNetV3's InvertedResidual
        def __init__(self) -> None:
            super().__init__()
            self.block = nn.Sequential(
                nn.Conv2d(16, 16, 3, 2, 1, groups=16, bias=False),
                nn.BatchNorm2d(16),
                nn.Hardswish(),
                _squeeze_excitation(16, 8, nn.ReLU, nn.Hardsigmoid),
                nn.Conv2d(16, 24, 1, bias=False),
            )

        def forward(self, x: Any) -> Any:
            return self.block(x)

    se = _squeeze_excitation(24, 8, nn.SiLU, nn.Sigmoid)
    if in_order:
        model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), Block(), se)
    else:
        model = nn.Sequential(nn.Conv2d(3, 24, 3, padding=1), nn.ReLU(), se)
    path = tmp_path / "model.txt"
    path.write_text(str(model), encoding="utf-8")
    x = torch.zeros(1, 3, 17, 15)
    args = ["net", f"@{path}", "--input-shape", "1x3x17x15", "--json"]
    payload = json_of(invoke(*args, *(["--in-order"] if in_order else [])))
    with torch.no_grad():
        assert payload["output_shape"] == list(model(x).shape)
    assert payload["total"]["params"] == sum(p.numel() for p in model.parameters())
    kinds = [layer["layer"] for layer in payload["layers"]]
    assert "se(8, act='silu', gate='sigmoid')" in kinds
    if in_order:
        assert "se(8, act='relu', gate='hardsigmoid')" in kinds


def test_lines_after_it_keep_their_numbers(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torch import nn

    model = nn.Sequential(_squeeze_excitation(4, 2, nn.ReLU, nn.Sigmoid), nn.Conv2d(4, 2, 9))
    path = tmp_path / "model.txt"
    path.write_text(str(model), encoding="utf-8")
    result = invoke("net", f"@{path}", "--input-shape", "1x4x6x6")
    line = str(model).splitlines().index("  (1): Conv2d(4, 2, kernel_size=(9, 9), stride=(1, 1))")
    # The table stops at the layer that does not fit, which the error names.
    assert result.exit_code == 2 and "layer 2 Conv2d(4, 2" in result.stderr
    # A layer's own error: its line in the file, as printed.
    bad = str(model).replace(
        "Conv2d(4, 2, kernel_size=(9, 9)", "Conv2d(4, 2, kernel_size=(9, 9, 9)"
    )
    path.write_text(bad, encoding="utf-8")
    assert_usage_error(invoke("net", f"@{path}", "--input-shape", "1x4x6x6"), f"line {line + 1},")


def test_one_that_is_not_torchvisions_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torch import nn

    se = _squeeze_excitation(4, 2, nn.ReLU, nn.Sigmoid)
    se.fc1 = nn.Conv2d(4, 2, 1, bias=False)  # not torchvision's: its forward is unknown
    path = tmp_path / "model.txt"
    path.write_text(str(nn.Sequential(se)), encoding="utf-8")
    result = invoke("net", f"@{path}", "--input-shape", "1x4x6x6")
    assert_usage_error(result, "'SqueezeExcitation(' is a module with layers inside")


@pytest.mark.parametrize(
    "name", ["_Transition", "AnyStage", "BottleneckTransform", "SimpleStemIN", "ASPPConv"]
)
def test_torchvisions_sequential_subclasses_read_as_chains(tmp_path: Path, name: str) -> None:
    """torchvision's nn.Sequential subclasses that keep its forward (DenseNet's transition,
    RegNet's stage, transform and stem, DeepLab's ASPP convolution) print like one."""
    torch = pytest.importorskip("torch")
    from torch import nn

    subclass = type(name, (nn.Sequential,), {})
    inner = subclass(nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1), nn.AvgPool2d(2, 2))
    model = nn.Sequential(nn.Conv2d(3, 8, 3), inner, nn.Conv2d(4, 2, 3, padding=1))
    path = tmp_path / "model.txt"
    path.write_text(str(model), encoding="utf-8")
    assert f"{name}(" in path.read_text(encoding="utf-8")
    payload = json_of(invoke("net", f"@{path}", "--input-shape", "1x3x13x11", "--json"))
    with torch.no_grad():
        assert payload["output_shape"] == list(model.eval()(torch.zeros(1, 3, 13, 11)).shape)
    assert payload["total"]["params"] == sum(p.numel() for p in model.parameters())
    assert len(payload["layers"]) == 6
