"""InstanceNorm of a 3-D input: PyTorch's InstanceNorm2d reads (C, H, W), one unbatched
sample, so after ``flatten(start_dim=2)`` its channels are the first axis, not the second.

The walker follows that reading (params, buffers, training memory); the model ``--emit
torch`` writes runs, and a stated ``num_features`` that PyTorch would refuse is refused.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from clitools import invoke, json_of
from test_net import assert_matches_torch

from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import walk_network

SPECS = [
    "conv(4, k=1) > flatten(start_dim=2) > instancenorm",
    "conv(4, k=1) > flatten(start_dim=2) > instancenorm(affine=True)",
    "conv(4, k=1) > flatten(start_dim=2) > instancenorm(affine=True, track_running_stats=True)",
    "conv(4, k=1) > flatten(start_dim=2) > instancenorm(affine=True, bias=False)",
]
SHAPE = (3, 2, 4, 4)  # after flatten(start_dim=2): (3, 4, 16), read as C=3, H=4, W=16


@pytest.mark.parametrize("spec", SPECS)
def test_channels_are_the_first_axis_of_a_3d_input(spec: str) -> None:
    row = walk_network(parse_spec(spec), SHAPE).rows[-1]
    assert row.input_shape == (3, 4, 16)
    if "affine=True" in spec:
        assert row.params == 3 * (1 if "bias=False" in spec else 2)


@pytest.mark.torch
@pytest.mark.parametrize("spec", SPECS)
def test_the_emitted_model_runs_and_matches_torch(spec: str) -> None:
    pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_matches_torch(walk_network(parse_spec(spec), SHAPE))


@pytest.mark.torch
@pytest.mark.parametrize("spec", SPECS)
def test_training_memory_matches_saved_tensors(spec: str) -> None:
    torch = pytest.importorskip("torch")
    from test_net import torch_network

    data = json_of(invoke("net", spec, "--input-shape", "3x2x4x4", "--training", "--json"))
    net = torch_network(walk_network(parse_spec(spec), SHAPE))
    net.train()
    kept: dict[int, int] = {}

    def pack(t: Any) -> Any:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(torch.randn(*SHAPE))
    assert data["training"]["kept_bytes"] == sum(kept.values())


@pytest.mark.torch
def test_a_stated_width_pytorch_refuses_is_refused() -> None:
    torch = pytest.importorskip("torch")
    norm = torch.nn.InstanceNorm2d(4, affine=True)
    with pytest.raises(ValueError, match="num_features"):
        norm(torch.randn(3, 4, 16))  # read as C=3: PyTorch refuses
    spec = "Conv2d(2, 4, 1) > Flatten(start_dim=2) > InstanceNorm2d(4, affine=True)"
    result = invoke("net", spec, "--input-shape", "3x2x4x4")
    # the table stops before the layer, and the error names it
    assert result.exit_code == 2
    assert "layer 3 InstanceNorm2d(4, affine=True): states 4 channels, 3 arrive" in result.stderr
