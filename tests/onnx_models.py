"""Hand-written PyTorch modules equivalent to torchvision's families (its wheel here cannot
import), small enough to export and read in a test: each family's blocks as torchvision
writes them, a stem and a head. Imported only by tests that have torch."""

# mypy: disable-error-code="misc, no-any-return"
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _cbr(
    cin: int, cout: int, k: int = 3, s: int = 1, g: int = 1, act: type[nn.Module] | None = nn.ReLU
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=g, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        self.conv1 = _cbr(cin, width, 1)
        self.conv2 = _cbr(width, width, 3, stride)
        self.conv3 = _cbr(width, cout, 1, act=None)
        self.downsample = (
            _cbr(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


class ResNet(nn.Module):
    def __init__(self, bottleneck: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        if bottleneck:
            self.layer1 = nn.Sequential(Bottleneck(16, 8, 1), Bottleneck(32, 8, 1))
            self.layer2 = nn.Sequential(Bottleneck(32, 16, 2))
            width = 64
        else:
            self.layer1 = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 16, 1))
            self.layer2 = nn.Sequential(BasicBlock(16, 32, 2))
            width = 32
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            _cbr(cin, hidden, 1, act=nn.ReLU6),
            _cbr(hidden, hidden, 3, stride, g=hidden, act=nn.ReLU6),
            _cbr(hidden, cout, 1, act=None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _cbr(3, 16, 3, 2, act=nn.ReLU6),
            InvertedResidual(16, 16, 1, 1),
            InvertedResidual(16, 24, 2, 6),
            InvertedResidual(24, 24, 1, 6),
            _cbr(24, 64, 1, act=nn.ReLU6),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class SqueezeExcitation(nn.Module):
    def __init__(self, c: int, squeeze: int, act: type[nn.Module], gate: type[nn.Module]) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.activation = act()
        self.scale_activation = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class MobileNetV3Block(nn.Module):
    def __init__(self, c: int, act: type[nn.Module], gate: type[nn.Module]) -> None:
        super().__init__()
        self.block = nn.Sequential(
            _cbr(c, c * 4, 1, act=act),
            _cbr(c * 4, c * 4, 5, 1, g=c * 4, act=act),
            SqueezeExcitation(c * 4, c, nn.ReLU if gate is nn.Hardsigmoid else nn.SiLU, gate),
            _cbr(c * 4, c, 1, act=None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + x


class MobileNetV3(nn.Module):
    """mobilenet_v3 (Hardswish, SE with Hardsigmoid) or efficientnet (SiLU, Sigmoid)."""

    def __init__(self, efficient: bool = False) -> None:
        super().__init__()
        act = nn.SiLU if efficient else nn.Hardswish
        gate = nn.Sigmoid if efficient else nn.Hardsigmoid
        self.features = nn.Sequential(_cbr(3, 16, 3, 2, act=act), MobileNetV3Block(16, act, gate))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(16, 32), act(), nn.Dropout(0.2), nn.Linear(32, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class Inception(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch1 = _cbr(cin, 8, 1)
        self.branch2 = nn.Sequential(_cbr(cin, 8, 1), _cbr(8, 12, 3))
        self.branch3 = nn.Sequential(_cbr(cin, 4, 1), _cbr(4, 6, 3))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), _cbr(cin, 6, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _cbr(3, 16, 7, 2)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(16)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inception3a(self.maxpool1(self.conv1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))
        return torch.cat([x, out], 1)


class DenseNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _cbr(3, 16, 7, 2),
            nn.MaxPool2d(3, 2, 1),
            DenseLayer(16, 8),
            DenseLayer(24, 8),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 16, 1, bias=False),
            nn.AvgPool2d(2, 2),
        )
        self.classifier = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
        return self.classifier(torch.flatten(out, 1))


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), Fire(16, 4, 8)
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2d(16, 10, 1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, c, h, w)


class ShuffleUnit(nn.Module):
    """shufflenet_v2's stride-2 unit: two branches from the input, concatenated, shuffled."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        half = cout // 2
        self.branch1 = nn.Sequential(_cbr(cin, cin, 3, 2, g=cin, act=None), _cbr(cin, half, 1))
        self.branch2 = nn.Sequential(
            _cbr(cin, half, 1), _cbr(half, half, 3, 2, g=half, act=None), _cbr(half, half, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(torch.cat((self.branch1(x), self.branch2(x)), 1), 2)


class ShuffleNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _cbr(3, 16, 3, 2)
        self.stage2 = ShuffleUnit(16, 32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.stage2(self.conv1(x)).mean([2, 3]))


class RegNet(nn.Module):
    """regnet's X block (grouped 3x3 between two 1x1, a residual) after a stem."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _cbr(3, 16, 3, 2)
        self.proj = _cbr(16, 32, 1, 2, act=None)
        self.f = nn.Sequential(_cbr(16, 32, 1), _cbr(32, 32, 3, 2, g=4), _cbr(32, 32, 1, act=None))
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = F.relu(self.proj(x) + self.f(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class FCN(nn.Module):
    """fcn: a dilated backbone, an FCNHead, bilinear upsampling to the input's size."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            _cbr(3, 16, 3, 2), nn.Conv2d(16, 16, 3, padding=2, dilation=2)
        )
        self.classifier = nn.Sequential(_cbr(16, 8, 3), nn.Dropout(0.1), nn.Conv2d(8, 5, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        out = self.classifier(self.backbone(x))
        return F.interpolate(out, size=size, mode="bilinear", align_corners=False)


class Fully(nn.Module):
    """A fully convolutional net: its field is the gradient's support (--at)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.pool = nn.AvgPool2d(3, 2, 1)  # max pooling's gradient is one cell
        self.a = nn.Conv2d(8, 8, 3, 1, 2, dilation=2)
        self.b = nn.Conv2d(8, 8, 1)
        self.up = nn.ConvTranspose2d(8, 4, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.stem(x)))
        return self.up(torch.relu(self.a(x) + self.b(x)))


FAMILIES = {
    "resnet": lambda: ResNet(),
    "resnet_bottleneck": lambda: ResNet(bottleneck=True),
    "mobilenet_v2": MobileNetV2,
    "mobilenet_v3": MobileNetV3,
    "efficientnet": lambda: MobileNetV3(efficient=True),
    "googlenet": GoogLeNet,
    "densenet": DenseNet,
    "squeezenet": SqueezeNet,
    "shufflenet_v2": ShuffleNet,
    "regnet": RegNet,
    "fcn": FCN,
}


class LayerNorm2d(nn.LayerNorm):
    """torchvision's: LayerNorm over the channels of an NCHW tensor (permuted there and back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """convnext's block: depthwise 7x7, channels-last LayerNorm and MLP, layer scale, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dwconv(x).permute(0, 2, 3, 1)
        out = self.fc2(self.act(self.fc1(self.norm(out)))).permute(0, 3, 1, 2)
        return x + self.layer_scale * out


class ConvNeXt(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 4, 4), LayerNorm2d(16, eps=1e-6))
        self.stage = CNBlock(16)
        self.down = nn.Sequential(LayerNorm2d(16, eps=1e-6), nn.Conv2d(16, 32, 2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(32, eps=1e-6), nn.Flatten(1), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(self.stage(self.stem(x)))
        return self.classifier(self.avgpool(x))


FAMILIES["convnext"] = ConvNeXt


class ShuffleUnitSplit(nn.Module):
    """shufflenet_v2's stride-1 unit: half the channels kept, half through a branch."""

    def __init__(self, c: int) -> None:
        super().__init__()
        half = c // 2
        self.branch2 = nn.Sequential(
            _cbr(half, half, 1), _cbr(half, half, 3, 1, g=half, act=None), _cbr(half, half, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((x1, self.branch2(x2)), 1), 2)


class ShuffleNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _cbr(3, 16, 3, 2)
        self.stage2 = nn.Sequential(ShuffleUnit(16, 32), ShuffleUnitSplit(32))
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.stage2(self.conv1(x)).mean([2, 3]))


FAMILIES["shufflenet_v2"] = ShuffleNetV2
