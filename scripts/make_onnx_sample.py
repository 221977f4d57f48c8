"""Write the docs' ONNX samples: torchvision's resnet18 layout at a sixteenth of its width.

The model is written out here (BasicBlock, layers [2, 2, 2, 2], widths 4, 8, 16, 32, 10
classes) so that neither torchvision nor its weights are needed, with fixed seeded weights,
in eval mode (both exporters fold each BatchNorm into its conv), and exported twice:

- ``samples/resnet18_w4.onnx``: ``torch.onnx.export(model, (x,), path, dynamo=False)`` at
  1x3x64x64 (the TorchScript exporter; the costs page sets it beside onnx-tool);
- ``samples/resnet18_w4_224.onnx``: as the docs' one line exports torchvision's resnet18,
  ``torch.onnx.export(model, torch.randn(1, 3, 224, 224), path)`` (the default exporter,
  ``dynamo=True``), its nodes' ``stack_trace`` and ``fx_node`` metadata left out (they
  name this machine's files); the ``namespace`` metadata, each node's module path, is kept.

    python scripts/make_onnx_sample.py       # needs torch, onnx and onnxscript
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
OUT = SAMPLES / "resnet18_w4.onnx"
OUT_224 = SAMPLES / "resnet18_w4_224.onnx"
# Metadata the dynamo exporter writes that names files on the machine it ran on.
DROPPED = ("pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node")


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: Any) -> Any:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, width: int = 4, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = width
        for index, stride in enumerate((1, 2, 2, 2)):
            cout = width * 2**index
            blocks = nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))
            setattr(self, f"layer{index + 1}", blocks)
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: Any) -> Any:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def main() -> None:
    import onnx

    torch.manual_seed(0)
    model = ResNet18().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 64, 64),), str(OUT), dynamo=False)
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(OUT_224))
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")
    written = onnx.load(str(OUT_224))
    for node in written.graph.node:
        kept = [entry for entry in node.metadata_props if entry.key not in DROPPED]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    onnx.save(written, str(OUT_224))  # its weights inside, as small as they are
    Path(f"{OUT_224}.data").unlink(missing_ok=True)
    print(f"wrote {OUT_224} ({OUT_224.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
