"""torchvision's InvertedResidual (MobileNetV2, V3) and MBConv, FusedMBConv (EfficientNet)
in pasted ``print(model)`` text.

Their forward is known: the children in order, plus the input when the stride is 1 and
the channels out equal the channels in (torchvision's ``use_res_connect``), so they are read
as ``residual(...)`` then, as a chain otherwise, with or without ``--in-order``. The
classes are written here as torchvision writes them, printed by PyTorch; the network
``--emit torch`` builds from the printout, given the same weights, computes what the
model computes (which it does not when an add is lost or one too many), and ``--depth``
rows equal torchinfo's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
from clitools import assert_usage_error, invoke, json_of
from test_net_printed_modules import _compare


def _torchvision() -> dict[str, Any]:
    """torchvision's classes (0.2x), without torchvision."""
    from torch import nn

    class Conv2dNormActivation(nn.Sequential):
        def __init__(
            self,
            cin: int,
            cout: int,
            k: int = 3,
            stride: int = 1,
            groups: int = 1,
            act: Any = nn.ReLU,
        ) -> None:
            layers: list[nn.Module] = [
                nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout),
            ]
            if act is not None:
                layers.append(act(inplace=True))
            super().__init__(*layers)

    class SqueezeExcitation(nn.Module):
        def __init__(self, channels: int, squeeze: int, act: Any, gate: Any) -> None:
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(channels, squeeze, 1)
            self.fc2 = nn.Conv2d(squeeze, channels, 1)
            self.activation = act()
            self.scale_activation = gate()

        def forward(self, x: Any) -> Any:
            return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x))))) * x

    class StochasticDepth(nn.Module):
        def __init__(self, p: float, mode: str) -> None:
            super().__init__()
            self.p, self.mode = p, mode

        def forward(self, x: Any) -> Any:
            return x  # eval: the identity

        def __repr__(self) -> str:
            return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"

    class InvertedResidual(nn.Module):  # MobileNetV2's
        def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
            super().__init__()
            hidden = cin * expand
            self.use_res_connect = stride == 1 and cin == cout
            layers: list[nn.Module] = []
            if expand != 1:
                layers.append(Conv2dNormActivation(cin, hidden, 1, act=nn.ReLU6))
            layers += [
                Conv2dNormActivation(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
                nn.BatchNorm2d(cout),
            ]
            self.conv = nn.Sequential(*layers)

        def forward(self, x: Any) -> Any:
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class InvertedResidualV3(nn.Module):  # MobileNetV3's (printed as InvertedResidual)
        def __init__(self, cin: int, exp: int, cout: int, k: int, stride: int, se: bool) -> None:
            super().__init__()
            self.use_res_connect = stride == 1 and cin == cout
            layers: list[nn.Module] = []
            if exp != cin:
                layers.append(Conv2dNormActivation(cin, exp, 1, act=nn.Hardswish))
            layers.append(Conv2dNormActivation(exp, exp, k, stride, groups=exp, act=nn.Hardswish))
            if se:
                layers.append(SqueezeExcitation(exp, max(8, exp // 4), nn.ReLU, nn.Hardsigmoid))
            layers.append(Conv2dNormActivation(exp, cout, 1, act=None))
            self.block = nn.Sequential(*layers)

        def forward(self, x: Any) -> Any:
            result = self.block(x)
            if self.use_res_connect:
                result += x
            return result

    InvertedResidualV3.__name__ = "InvertedResidual"

    class MBConv(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
            super().__init__()
            self.use_res_connect = stride == 1 and cin == cout
            exp = cin * expand
            silu = partial(nn.SiLU, inplace=True)
            layers: list[nn.Module] = []
            if exp != cin:
                layers.append(Conv2dNormActivation(cin, exp, 1, act=nn.SiLU))
            layers.append(Conv2dNormActivation(exp, exp, k, stride, groups=exp, act=nn.SiLU))
            layers.append(SqueezeExcitation(exp, max(1, cin // 4), silu, nn.Sigmoid))
            layers.append(Conv2dNormActivation(exp, cout, 1, act=None))
            self.block = nn.Sequential(*layers)
            self.stochastic_depth = StochasticDepth(0.0125, "row")

        def forward(self, x: Any) -> Any:
            result = self.block(x)
            if self.use_res_connect:
                result = self.stochastic_depth(result)
                result += x
            return result

    class FusedMBConv(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
            super().__init__()
            self.use_res_connect = stride == 1 and cin == cout
            exp = cin * expand
            layers: list[nn.Module] = []
            if exp != cin:
                layers.append(Conv2dNormActivation(cin, exp, k, stride, act=nn.SiLU))
                layers.append(Conv2dNormActivation(exp, cout, 1, act=None))
            else:
                layers.append(Conv2dNormActivation(cin, cout, k, stride, act=nn.SiLU))
            self.block = nn.Sequential(*layers)
            self.stochastic_depth = StochasticDepth(0.2, "row")

        def forward(self, x: Any) -> Any:
            result = self.block(x)
            if self.use_res_connect:
                result = self.stochastic_depth(result)
                result += x
            return result

    return {
        "v2": InvertedResidual,
        "v3": InvertedResidualV3,
        "mbconv": MBConv,
        "fused": FusedMBConv,
        "cna": Conv2dNormActivation,
    }


def _model(tv: dict[str, Any]) -> Any:
    """A stem, then each block kind with and without its add (stride 2, or channels
    changed)."""
    from torch import nn

    v2, v3, mb, fused = tv["v2"], tv["v3"], tv["mbconv"], tv["fused"]
    return nn.Sequential(
        tv["cna"](3, 16, 3, 2),
        v2(16, 16, 1, 1),  # adds, expand 1 (no expanding conv)
        v2(16, 24, 2, 6),
        v2(24, 24, 1, 6),  # adds
        v3(24, 72, 24, 3, 1, False),  # adds
        v3(24, 72, 40, 5, 2, True),
        v3(40, 120, 40, 5, 1, True),  # adds, with squeeze-excitation
        mb(40, 40, 3, 1, 1),  # adds, expand 1
        mb(40, 48, 5, 2, 6),
        mb(48, 48, 5, 1, 6),  # adds
        fused(48, 48, 3, 1, 1),  # adds
        fused(48, 64, 3, 2, 4),
        fused(64, 64, 3, 1, 4),  # adds
    )


def _residual_rows(layers: list[dict[str, Any]]) -> int:
    return sum(
        (layer["layer"].startswith("residual(")) + _residual_rows(layer.get("layers", []))
        for layer in layers
    )


@pytest.mark.torch
@pytest.mark.parametrize("in_order", [False, True])
def test_the_blocks_add_their_input_as_torchvision_does(tmp_path: Path, in_order: bool) -> None:
    torch = pytest.importorskip("torch")
    model = _model(_torchvision()).eval()
    path = tmp_path / "model.txt"
    path.write_text(str(model), encoding="utf-8")
    args = ["net", f"@{path}", "--input-shape", "1x3x40x36", *(["--in-order"] * in_order)]
    payload = json_of(invoke(*args, "--json"))
    adds = sum(bool(getattr(block, "use_res_connect", False)) for block in model)
    assert _residual_rows(payload["layers"]) == adds == 8
    assert payload["total"]["params"] == sum(p.numel() for p in model.parameters())
    x = torch.randn(1, 3, 40, 36)
    # The network convcli builds from the printout, with the model's weights, computes
    # what the model does: an add lost (or one too many) changes every later value.
    script = invoke(*args, "--emit", "torch")
    assert script.exit_code == 0, script.output
    code = script.stdout.split("\nx = torch.zeros")[0]
    scope: dict[str, Any] = {}
    exec(compile(code, "emitted", "exec"), scope)  # convcli's own script
    built = scope["net"].eval()
    mine, theirs = list(built.state_dict().values()), list(model.state_dict().values())
    assert [t.shape for t in mine] == [t.shape for t in theirs]
    with torch.no_grad():
        for module in model.modules():  # running statistics that are not 0 and 1
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        built.load_state_dict(dict(zip(built.state_dict(), theirs, strict=True)))
        assert torch.allclose(built(x), model(x), atol=1e-5, rtol=1e-4)


@pytest.mark.torch
def test_the_blocks_fold_by_module_as_torchinfo(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    _compare(tmp_path, _model(_torchvision()), (1, 3, 40, 36))


@pytest.mark.torch
def test_depth_2_rows_are_the_blocks_with_their_adds(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from torch import nn

    tv = _torchvision()
    model = nn.Sequential(tv["v2"](8, 8, 1, 2), tv["mbconv"](8, 16, 3, 2, 2))
    path = tmp_path / "model.txt"
    path.write_text(str(model), encoding="utf-8")
    args = ("net", f"@{path}", "--input-shape", "1x8x9x9", "--json", "--depth")
    one = json_of(invoke(*args, "1"))["modules"]
    assert [(m["module"], m["class"]) for m in one] == [
        ("0", "InvertedResidual"),
        ("1", "MBConv"),
    ]
    # The add is the block's: its last row, its output (the sum's).
    opened = json_of(invoke(*args, "2"))["modules"][0]["children"]
    assert [(m["module"], m["layer"]) for m in opened] == [("0.conv", None), ("", "residual")]


# -- without torch: text as print(model) writes it ------------------------------------------

V2_BLOCK = """Sequential(
  (0): InvertedResidual(
    (conv): Sequential(
      (0): Conv2dNormActivation(
        (0): Conv2d(8, 8, kernel_size=(3, 3), stride=({s}, {s}), padding=(1, 1), groups=8, {nb})
        (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
        (2): ReLU6(inplace=True)
      )
      (1): Conv2d(8, {c}, kernel_size=(1, 1), stride=(1, 1), bias=False)
      (2): BatchNorm2d({c}, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    )
  )
)
"""


@pytest.mark.parametrize(
    ("stride", "channels", "adds"), [(1, 8, True), (2, 8, False), (1, 16, False)]
)
def test_an_inverted_residual_adds_only_at_stride_1_and_equal_channels(
    tmp_path: Path, stride: int, channels: int, adds: bool
) -> None:
    path = tmp_path / "block.txt"
    path.write_text(V2_BLOCK.format(s=stride, c=channels, nb="bias=False"), encoding="utf-8")
    payload = json_of(invoke("net", f"@{path}", "--input-shape", "1x8x6x6", "--json"))
    kinds = [layer["layer"].split("(")[0] for layer in payload["layers"]]
    if adds:
        assert kinds == ["residual"]
        assert len(payload["layers"][0]["layers"]) == 5 and payload["layers"][0]["shortcut"] == []
    else:
        assert kinds == ["Conv2d", "BatchNorm2d", "ReLU6", "Conv2d", "BatchNorm2d"]


def test_one_that_is_not_torchvisions_is_still_a_custom_module(tmp_path: Path) -> None:
    # An extra child: not torchvision's InvertedResidual, whose forward is then unknown.
    closing = "    )\n  )\n)"
    extra = "    )\n    (extra): ReLU()\n  )\n)"
    text = V2_BLOCK.format(s=1, c=8, nb="bias=False").replace(closing, extra)
    path = tmp_path / "block.txt"
    path.write_text(text, encoding="utf-8")
    refused = invoke("net", f"@{path}", "--input-shape", "1x8x6x6")
    assert_usage_error(refused, "'InvertedResidual(' is a module with layers inside")
    payload = json_of(invoke("net", f"@{path}", "--input-shape", "1x8x6x6", "--in-order", "--json"))
    assert _residual_rows(payload["layers"]) == 0
    assert {layer["read_in_order_from"] for layer in payload["layers"]} == {"InvertedResidual"}
