"""Training's counts and SGD steps against values recorded from PyTorch (no torch needed).

Regenerate with ``python scripts/make_golden_training.py`` (torch==2.13.0 installed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convcli.ops.learn import edges_example, learn_kernel
from convcli.shapes.cost import training_cost
from convcli.shapes.layer import describe_layer
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import walk_network
from convcli.shapes.training import training_memory

GOLDEN = json.loads(
    (Path(__file__).parent / "golden" / "training_golden.json").read_text(encoding="utf-8")
)


def _options(case: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in case["options"].items()}


@pytest.mark.parametrize("case", GOLDEN["layers"], ids=lambda c: str(c["options"]))
def test_layer_counts_match_recorded_torch(case: dict[str, Any]) -> None:
    layer = describe_layer(
        tuple(case["input_shape"]), tuple(case["kernel_shape"]), bias=True, **_options(case)
    )
    cost = training_cost(layer)
    assert cost.flop_counter_forward == case["forward_flops"]
    assert cost.backward.flop_counter == case["backward_flops"]
    # the input requires a gradient here, as it does inside a network
    assert cost.backward.kept_bytes == case["kept_bytes"]


@pytest.mark.parametrize("case", GOLDEN["networks"], ids=lambda c: c["spec"][:24])
def test_network_memory_matches_recorded_torch(case: dict[str, Any]) -> None:
    network = walk_network(parse_spec(case["spec"]), tuple(case["input_shape"]))
    memory = training_memory(network, 4)
    assert memory.kept_bytes == case["kept_bytes"]
    assert 2 * memory.backward_macs == case["backward_flops"]


def test_learn_steps_match_recorded_sgd() -> None:
    case = GOLDEN["learn"]
    x, y = edges_example()
    run = learn_kernel(x, y, np.array(case["initial_kernel"]), lr=case["lr"], epochs=case["epochs"])
    np.testing.assert_allclose(run.losses, case["losses"], rtol=1e-12)
    np.testing.assert_allclose(run.kernel, case["kernel"], rtol=1e-12)
