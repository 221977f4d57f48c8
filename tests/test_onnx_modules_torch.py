"""`convcli net MODEL.onnx --depth 2` on models exported by PyTorch (both exporters): each
module row's output shape and MACs equal the module's own in torch's forward."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from clitools import invoke, json_of

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from onnx_models import FAMILIES  # noqa: E402

SIZE = 64


def _export(model: Any, path: Path, dynamo: bool) -> str:
    if dynamo:
        pytest.importorskip("onnxscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, SIZE, SIZE),), str(path), dynamo=dynamo)
    return str(path)


def _forward(model: Any) -> tuple[dict[str, int], dict[str, tuple[int, ...]], Counter[str]]:
    """Per module: the MACs of its convs and linears, its output shape, its calls."""
    macs: dict[str, int] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    calls: Counter[str] = Counter()
    names = {module: name for name, module in model.named_modules()}

    def hook(module: Any, inputs: Any, output: Any) -> None:
        name = names[module]
        calls[name] += 1
        if isinstance(output, torch.Tensor):
            shapes[name] = tuple(output.shape)
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs[name] = output.numel() * module.in_channels // module.groups * k
        elif isinstance(module, torch.nn.Linear):
            macs[name] = output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(torch.randn(1, 3, SIZE, SIZE))
    for handle in handles:
        handle.remove()
    return macs, shapes, calls


def _rows(entries: list[dict[str, Any]], parent: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every module row with its qualified name (TorchScript names a child ``branch1``
    inside ``inception3a``; the dynamo exporter ``inception3a.branch1``)."""
    found = []
    for entry in entries:
        name = entry["module"]
        if parent and name and not name.startswith(parent + "."):
            name = f"{parent}.{name}"
        found.append((name, entry))
        found += _rows(entry.get("children", []), name)
    return found


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("family", ["resnet", "resnet_bottleneck", "googlenet", "mobilenet_v2"])
def test_each_module_row_is_the_modules_own_output_and_macs(
    family: str, dynamo: bool, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    model = FAMILIES[family]().eval()
    path = _export(model, tmp_path / f"{family}.onnx", dynamo)
    payload = json_of(invoke("net", path, "--json", "--depth", "2"))
    macs, shapes, calls = _forward(model)
    modules = dict(model.named_modules())
    checked = 0
    for name, entry in _rows(payload["modules"]):
        module = modules.get(name)
        # Containers called once: a fused conv and BatchNorm take either's name.
        if not name or module is None or not list(module.children()) or calls[name] != 1:
            continue
        inside = sum(n for inner, n in macs.items() if inner.startswith(name + "."))
        assert (name, entry["macs"]) == (name, inside)
        assert (name, tuple(entry["output_shape"])) == (name, shapes[name])
        checked += 1
    assert checked >= 3
    assert sum(entry["macs"] for entry in payload["modules"]) == payload["total"]["macs"]
    assert sum(entry["params"] for entry in payload["modules"]) == payload["total"]["params"]
