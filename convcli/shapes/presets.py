"""d2l's networks (PyTorch edition, one input channel, ten classes) as ``convcli net`` specs.

Written from the book's own definitions: LeNet (7.6), AlexNet (8.1), VGG-11 (8.2),
NiN (8.3), GoogLeNet (8.4: each Inception block a ``concat`` of its four paths, the
ReLUs its ``forward`` applies written after each convolution), ResNet-18 (8.6,
convolutions with bias as in the book; each ``Residual``'s closing ReLU follows its
``residual(...)``), DenseNet (8.7: growth 32, four dense blocks of four, each
convolution block a ``concat(identity | ...)``, transitions halving the channels).
Input shapes are the book's. Beside them: torchvision's MobileNetV2 (3x224x224,
1000 classes; its forward's pooling and flatten written out) and a four-level UNet
(padded 3x3 convolutions with BatchNorm, 2x2 max pooling down, 2x2 transposed
convolutions up, each skip a ``concat(identity | ...)``, one output channel).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    """A named network: its spec, the input shape the book uses and where the book has it."""

    spec: str
    input_shape: tuple[int, int, int, int]
    section: str


def _vgg(arch: tuple[tuple[int, int], ...]) -> str:
    blocks = [
        " > ".join([f"conv({channels}, k=3, p=1) > relu"] * convs) + " > maxpool(2, s=2)"
        for convs, channels in arch
    ]
    head = "flatten > linear(4096) > relu > dropout(0.5) > linear(4096) > relu > dropout(0.5)"
    return " > ".join([*blocks, head, "linear(10)"])


def _nin_block(channels: int, kernel: int, stride: int, padding: int) -> str:
    return (
        f"conv({channels}, k={kernel}, s={stride}, p={padding}) > relu > "
        f"conv({channels}, k=1) > relu > conv({channels}, k=1) > relu"
    )


def _resnet(arch: tuple[tuple[int, int], ...]) -> str:
    parts = ["conv(64, k=7, s=2, p=3) > bn > relu > maxpool(3, s=2, p=1)"]
    for stage, (residuals, channels) in enumerate(arch):
        for i in range(residuals):
            downsample = i == 0 and stage > 0
            stride = ", s=2" if downsample else ""
            body = (
                f"conv({channels}, k=3, p=1{stride}) > bn > relu > conv({channels}, k=3, p=1) > bn"
            )
            shortcut = f", shortcut=conv({channels}, k=1{stride})" if downsample else ""
            parts.append(f"residual({body}{shortcut}) > relu")
    parts.append("adaptiveavgpool((1, 1)) > flatten > linear(10)")
    return " > ".join(parts)


def _inception(c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int) -> str:
    return (
        f"concat(conv({c1}, k=1) > relu"
        f" | conv({c2[0]}, k=1) > relu > conv({c2[1]}, k=3, p=1) > relu"
        f" | conv({c3[0]}, k=1) > relu > conv({c3[1]}, k=5, p=2) > relu"
        f" | maxpool(3, s=1, p=1) > conv({c4}, k=1) > relu)"
    )


def _googlenet() -> str:
    pool = "maxpool(3, s=2, p=1)"
    return " > ".join(
        [
            f"conv(64, k=7, s=2, p=3) > relu > {pool}",
            f"conv(64, k=1) > relu > conv(192, k=3, p=1) > relu > {pool}",
            _inception(64, (96, 128), (16, 32), 32),
            _inception(128, (128, 192), (32, 96), 64),
            pool,
            _inception(192, (96, 208), (16, 48), 64),
            _inception(160, (112, 224), (24, 64), 64),
            _inception(128, (128, 256), (24, 64), 64),
            _inception(112, (144, 288), (32, 64), 64),
            _inception(256, (160, 320), (32, 128), 128),
            pool,
            _inception(256, (160, 320), (32, 128), 128),
            _inception(384, (192, 384), (48, 128), 128),
            "adaptiveavgpool((1, 1)) > flatten > linear(10)",
        ]
    )


def _densenet(growth: int = 32, arch: tuple[int, ...] = (4, 4, 4, 4)) -> str:
    parts = ["conv(64, k=7, s=2, p=3) > bn > relu > maxpool(3, s=2, p=1)"]
    channels = 64
    for i, convs in enumerate(arch):
        parts.append(f"repeat({convs}, concat(identity | bn > relu > conv({growth}, k=3, p=1)))")
        channels += convs * growth
        if i != len(arch) - 1:
            channels //= 2
            parts.append(f"bn > relu > conv({channels}, k=1) > avgpool(2, s=2)")
    parts.append("bn > relu > adaptiveavgpool((1, 1)) > flatten > linear(10)")
    return " > ".join(parts)


def _mobilenet_v2() -> str:
    """torchvision's mobilenet_v2 (width 1.0): channels are multiples of 8 as given."""
    cbr = "bn > relu6"
    parts = [f"conv(32, k=3, s=2, p=1, bias=False) > {cbr}"]
    inp = 32
    settings = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
    for t, c, n, s in (*settings, (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = inp * t
            layers = [] if t == 1 else [f"conv({hidden}, k=1, bias=False) > {cbr}"]
            layers.append(f"conv({hidden}, k=3, s={stride}, p=1, g={hidden}, bias=False) > {cbr}")
            layers.append(f"conv({c}, k=1, bias=False) > bn")
            body = " > ".join(layers)
            parts.append(f"residual({body})" if stride == 1 and inp == c else body)
            inp = c
    parts.append(f"conv(1280, k=1, bias=False) > {cbr}")
    parts.append("adaptiveavgpool((1, 1)) > flatten > dropout(0.2) > linear(1000)")
    return " > ".join(parts)


def _unet(channels: tuple[int, ...] = (64, 128, 256, 512), bottom: int = 1024) -> str:
    def double(c: int) -> str:
        half = f"conv({c}, k=3, p=1, bias=False) > bn > relu"
        return f"{half} > {half}"

    inner = double(bottom)
    for c in reversed(channels):
        inner = (
            f"{double(c)} > concat(identity | maxpool(2) > {inner} > convT({c}, k=2, s=2))"
            f" > {double(c)}"
        )
    return f"{inner} > conv(1, k=1)"


PRESETS: dict[str, Preset] = {
    "lenet": Preset(
        "conv(6, k=5, p=2) > sigmoid > avgpool(2, s=2) > conv(16, k=5) > sigmoid > "
        "avgpool(2, s=2) > flatten > linear(120) > sigmoid > linear(84) > sigmoid > linear(10)",
        (1, 1, 28, 28),
        "7.6",
    ),
    "alexnet": Preset(
        "conv(96, k=11, s=4, p=1) > relu > maxpool(3, s=2) > conv(256, k=5, p=2) > relu > "
        "maxpool(3, s=2) > conv(384, k=3, p=1) > relu > conv(384, k=3, p=1) > relu > "
        "conv(256, k=3, p=1) > relu > maxpool(3, s=2) > flatten > linear(4096) > relu > "
        "dropout(0.5) > linear(4096) > relu > dropout(0.5) > linear(10)",
        (1, 1, 224, 224),
        "8.1",
    ),
    "vgg11": Preset(
        _vgg(((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))), (1, 1, 224, 224), "8.2"
    ),
    "nin": Preset(
        " > ".join(
            [
                _nin_block(96, 11, 4, 0),
                "maxpool(3, s=2)",
                _nin_block(256, 5, 1, 2),
                "maxpool(3, s=2)",
                _nin_block(384, 3, 1, 1),
                "maxpool(3, s=2) > dropout(0.5)",
                _nin_block(10, 3, 1, 1),
                "adaptiveavgpool((1, 1)) > flatten",
            ]
        ),
        (1, 1, 224, 224),
        "8.3",
    ),
    "googlenet": Preset(_googlenet(), (1, 1, 96, 96), "8.4"),
    "resnet18": Preset(_resnet(((2, 64), (2, 128), (2, 256), (2, 512))), (1, 1, 96, 96), "8.6"),
    "densenet": Preset(_densenet(), (1, 1, 96, 96), "8.7"),
    "mobilenet_v2": Preset(_mobilenet_v2(), (1, 3, 224, 224), "torchvision"),
    "unet": Preset(_unet(), (1, 1, 256, 256), "UNet"),
}
