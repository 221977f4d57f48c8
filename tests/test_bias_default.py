"""Issue 19 defect 7: one default for the bias, nn.Conv2d's bias=True, in shapes and net.

Each count is checked against the torch.nn module's own parameters (skipped without torch),
and without torch against the weights-plus-one-per-output-channel arithmetic.
"""

from __future__ import annotations

import math

import pytest
from clitools import invoke, json_of

CONVS = [
    # (input shape, kernel shape, extra flags, groups)
    ("1x64x56x56", (128, 64, 3, 3), ("-s", "2", "-p", "1"), 1),
    ("3x32x32", (8, 3, 5, 5), (), 1),
    ("1x8x9x9", (16, 2, 3, 3), ("-g", "4"), 4),
]


@pytest.mark.parametrize(("input_shape", "kernel", "flags", "groups"), CONVS)
@pytest.mark.parametrize("bias", [True, False])
def test_shapes_counts_what_nn_conv2d_has(
    input_shape: str, kernel: tuple[int, ...], flags: tuple[str, ...], groups: int, bias: bool
) -> None:
    args = ["shapes", "--input-shape", input_shape, "--kernel-shape", "x".join(map(str, kernel))]
    payload = json_of(invoke(*args, *flags, *([] if bias else ["--no-bias"]), "--json"))
    assert payload["bias"] is bias
    assert payload["params"] == math.prod(kernel) + (kernel[0] if bias else 0)
    torch = pytest.importorskip("torch")
    module = torch.nn.Conv2d(kernel[1] * groups, kernel[0], kernel[2:], groups=groups, bias=bias)
    assert payload["params"] == sum(p.numel() for p in module.parameters())
    if bias:
        # The default is nn.Conv2d's: no flag gives the same count as the module's default.
        default = torch.nn.Conv2d(kernel[1] * groups, kernel[0], kernel[2:], groups=groups)
        assert payload["params"] == sum(p.numel() for p in default.parameters())


@pytest.mark.parametrize("bias", [True, False])
def test_shapes_transposed_counts_what_nn_convtranspose2d_has(bias: bool) -> None:
    args = ["shapes", "--transposed", "--input-shape", "16x8x8", "--kernel-shape", "16x4x4x4"]
    payload = json_of(invoke(*args, "-s", "2", *([] if bias else ["--no-bias"]), "--json"))
    assert payload["bias"] is bias
    text = " ".join(invoke(*args, *([] if bias else ["--no-bias"])).stdout.split())
    assert ("nn.ConvTranspose2d's default bias=True" in text) is bias
    torch = pytest.importorskip("torch")
    module = torch.nn.ConvTranspose2d(16, 4, 4, stride=2, bias=bias)
    assert payload["params"] == sum(p.numel() for p in module.parameters())


NETS = [
    "conv(8, k=3) > relu > conv(8, k=3, bias=False) > bn > flatten > linear(10)",
    "convT(4, k=4, s=2) > conv(2, k=3, bias=True) > gap > flatten > linear(3, bias=False)",
]


@pytest.mark.parametrize("spec", NETS)
@pytest.mark.parametrize("bias", [True, False])
def test_net_counts_what_the_emitted_torch_network_has(spec: str, bias: bool) -> None:
    flags = ["--input-shape", "1x3x12x12", *([] if bias else ["--no-bias"])]
    payload = json_of(invoke("net", spec, *flags, "--json"))
    assert payload["bias_default"] is bias
    with_bias = json_of(invoke("net", spec, "--input-shape", "1x3x12x12", "--json"))
    # A layer that says bias= keeps it; the others follow the flag.
    stated = [layer for layer in payload["layers"] if "bias=" in layer["layer"]]
    for layer, other in zip(payload["layers"], with_bias["layers"], strict=True):
        plain = "conv" not in layer["layer"] and "linear" not in layer["layer"]
        if layer in stated or plain:
            assert layer["params"] == other["params"], layer
    pytest.importorskip("torch")
    script = invoke("net", spec, *flags, "--emit", "torch").stdout
    namespace: dict[str, object] = {}
    exec(script.split("x = torch.zeros")[0], namespace)  # builds `net`, prints nothing
    net = namespace["net"]
    assert payload["total"]["params"] == sum(p.numel() for p in net.parameters())  # type: ignore[attr-defined]
    assert len(net) == len(payload["layers"])  # type: ignore[arg-type]


def test_net_says_which_bias_it_counted() -> None:
    spec = "conv(4, k=3) > flatten > linear(2)"
    counted = " ".join(invoke("net", spec, "--input-shape", "1x1x6x6").stdout.split())
    assert "params count the bias of every conv, convT and linear layer" in counted
    dropped = invoke("net", spec, "--input-shape", "1x1x6x6", "--no-bias").stdout
    assert "--no-bias" in dropped and "leave out the bias" in " ".join(dropped.split())
