"""d2l's networks (PyTorch edition, one input channel, ten classes) as ``convcli net`` specs.

Written from the book's own definitions: LeNet (7.6), AlexNet (8.1), VGG-11 (8.2),
NiN (8.3), ResNet-18 (8.6, convolutions with bias as in the book; each ``Residual``'s
closing ReLU follows its ``residual(...)``). Input shapes are the book's.
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
    "resnet18": Preset(_resnet(((2, 64), (2, 128), (2, 256), (2, 512))), (1, 1, 96, 96), "8.6"),
}
