"""Record what PyTorch counts and keeps for training, and its SGD steps, as golden values.

Run from the repository root, with ``torch==2.13.0`` (CPU) installed::

    python scripts/make_golden_training.py

Writes ``tests/golden/training_golden.json``; ``tests/test_golden_training.py`` replays it
through convcli without torch:

- ``layers``: single convolutions (grouped, strided, dilated, padded): FlopCounterMode's
  forward and backward totals and its backward count by operation, and the bytes that
  ``saved_tensors_hooks`` sees (deduplicated by storage);
- ``networks``: specs and presets (small inputs): the bytes autograd keeps during a
  training-mode forward pass and FlopCounterMode's backward total;
- ``learn``: ``nn.Conv2d`` trained by ``torch.optim.SGD`` from a given kernel on d2l's
  edge image: the loss before each step and the kernel after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from convcli.render.torchcode import torch_script
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import walk_network
from convcli.shapes.presets import PRESETS

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "training_golden.json"
LAYERS: list[tuple[list[int], list[int], dict[str, Any]]] = [
    ([1, 3, 8, 8], [4, 3, 3, 3], {"padding": 1}),
    ([2, 4, 9, 9], [6, 2, 3, 3], {"groups": 2, "padding": 1, "stride": 2}),
    ([1, 6, 7, 10], [6, 1, 3, 2], {"groups": 6, "padding": [2, 1], "dilation": 2}),
    ([3, 2, 5, 5], [3, 2, 1, 1], {}),
    ([1, 2, 11, 9], [4, 2, 3, 3], {"stride": [3, 2], "padding": 2}),
]
NETWORKS: list[tuple[str, list[int]]] = [
    (PRESETS["lenet"].spec, [2, 1, 28, 28]),
    (PRESETS["nin"].spec, [1, 1, 96, 96]),
    (PRESETS["resnet18"].spec, [1, 1, 64, 64]),
    ("conv(8, k=3, p=1) > bn > gelu > maxpool(2) > conv(8, k=3) > silu > dropout(0.3) > "
     "adaptivemaxpool(2) > flatten > linear(5) > leakyrelu > linear(3, bias=False) > tanh",
     [2, 3, 12, 12]),
]  # fmt: skip
LEARN = {"lr": 0.03, "epochs": 10, "initial_kernel": [[0.25, -0.5]]}


def _kept(run: Any) -> int:
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(kept.values())


def layer_case(x_shape: list[int], w_shape: list[int], kw: dict[str, Any]) -> dict[str, Any]:
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(*w_shape, requires_grad=True)
    b = torch.randn(w_shape[0], requires_grad=True)
    out: list[torch.Tensor] = []
    with FlopCounterMode(display=False) as forward:
        kept = _kept(lambda: out.append(torch.nn.functional.conv2d(x, w, b, **args)))
    with FlopCounterMode(display=False) as backward:
        out[0].backward(torch.ones_like(out[0]))
    return {
        "input_shape": x_shape,
        "kernel_shape": w_shape,
        "options": kw,
        "forward_flops": forward.get_total_flops(),
        "backward_flops": backward.get_total_flops(),
        "kept_bytes": kept,
    }


def network_case(spec: str, shape: list[int]) -> dict[str, Any]:
    network = walk_network(parse_spec(spec), tuple(shape))
    namespace: dict[str, Any] = {}
    exec(torch_script(network).split("\nx = torch.zeros")[0], namespace)
    net = namespace["net"]
    net.train()
    out: list[torch.Tensor] = []
    kept = _kept(lambda: out.append(net(torch.randn(*shape))))
    with FlopCounterMode(display=False) as backward:
        out[0].sum().backward()
    return {"spec": spec, "input_shape": shape, "kept_bytes": kept,
            "backward_flops": backward.get_total_flops()}  # fmt: skip


def learn_case() -> dict[str, Any]:
    x = torch.ones(6, 8, dtype=torch.float64)
    x[:, 2:6] = 0
    y = torch.nn.functional.conv2d(x[None, None], torch.tensor([[[[1.0, -1.0]]]]).double())
    conv = torch.nn.Conv2d(1, 1, (1, 2), bias=False).double()
    with torch.no_grad():
        conv.weight[:] = torch.tensor(LEARN["initial_kernel"]).double()
    optimizer = torch.optim.SGD(conv.parameters(), lr=LEARN["lr"])
    losses = []
    for _ in range(LEARN["epochs"]):  # type: ignore[arg-type]
        optimizer.zero_grad()
        loss = ((conv(x[None, None]) - y) ** 2).sum()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {**LEARN, "losses": losses, "kernel": conv.weight.detach()[0, 0].tolist()}


def main() -> None:
    torch.manual_seed(0)
    golden = {
        "torch": torch.__version__,
        "layers": [layer_case(*case) for case in LAYERS],
        "networks": [network_case(*case) for case in NETWORKS],
        "learn": learn_case(),
    }
    OUT.write_text(json.dumps(golden, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
