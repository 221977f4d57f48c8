"""docs/concepts/costs.md's counting conventions: torchinfo, fvcore, ptflops and thop.

The page says what each counter adds to convcli's MACs (the weights' multiply-accumulates)
on torchvision's resnet18, resnet50 and mobilenet_v2; here each counter is run on the same
modules (``--emit torch``'s code, a smaller input than the page's 224x224 to stay fast) and
its total must be convcli's MACs plus exactly what the page says, computed from convcli's own
rows. Skipped where a counter is not installed (none is a dependency of convcli).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_net import torch_network

from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import LayerRow, Network, walk_network


def _page_networks() -> dict[str, tuple[str, int]]:
    """scripts/measure_peers.py's networks: the specs the page's table was measured on."""
    path = Path(__file__).resolve().parent.parent / "scripts" / "measure_peers.py"
    loader = importlib.util.spec_from_file_location("measure_peers", path)
    assert loader is not None and loader.loader is not None
    script = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(script)
    networks: dict[str, tuple[str, int]] = script.NETWORKS
    return networks


NETWORKS = _page_networks()

pytestmark = [pytest.mark.torch, pytest.mark.slow]
SHAPE = (1, 3, 64, 64)


def _leaves(rows: tuple[LayerRow, ...]) -> Iterator[LayerRow]:
    for row in rows:
        if row.inner:
            yield from _leaves(row.inner)
        else:
            yield row


def _values(row: LayerRow, which: str = "output") -> int:
    return math.prod(row.output_shape if which == "output" else row.input_shape)


def _page_extras(net: Network) -> dict[str, int]:
    """What the page says each counter adds to convcli's MACs."""
    extras = dict.fromkeys(("torchinfo", "fvcore", "ptflops", "thop"), 0)
    for row in _leaves(net.rows):
        kind = row.spec.kind
        if kind == "bn":
            # torchinfo: BatchNorm's parameters once; the others per value.
            extras["torchinfo"] += row.params
            extras["fvcore"] += 2 * _values(row)
            extras["ptflops"] += 2 * _values(row)
            extras["thop"] += 4 * _values(row)
        elif kind in ("relu", "relu6"):
            extras["ptflops"] += (2 if kind == "relu" else 1) * _values(row)
        elif kind == "maxpool":
            extras["ptflops"] += 2 * _values(row, "input")
        elif kind == "adaptiveavgpool":
            extras["fvcore"] += _values(row, "input")
            extras["ptflops"] += 2 * _values(row, "input")
            window = _values(row, "input") // _values(row)
            extras["thop"] += (window + 1) * _values(row)
        elif kind == "linear":
            # The linear layer's bias: torchinfo once per parameter, ptflops per output value.
            bias = row.output_shape[-1]
            extras["torchinfo"] += bias
            extras["ptflops"] += _values(row)
            assert row.params == bias * (1 + row.input_shape[-1])
        elif kind == "conv":
            assert row.spec.args["bias"] is False  # torchvision's: no conv bias to count
    return extras


def _counts(module: Any, net: Network) -> dict[str, int]:
    import torch

    x = torch.zeros(net.input_shape)
    counts = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torchinfo = pytest.importorskip("torchinfo")
        counts["torchinfo"] = torchinfo.summary(module, input_data=x, verbose=0).total_mult_adds
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            fvcore_nn = pytest.importorskip("fvcore.nn")
            analysis = fvcore_nn.FlopCountAnalysis(module, x)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            counts["fvcore"] = analysis.total()
            ptflops = pytest.importorskip("ptflops")
            counts["ptflops"], _ = ptflops.get_model_complexity_info(
                module,
                tuple(net.input_shape[1:]),
                as_strings=False,
                print_per_layer_stat=False,
                backend="pytorch",
            )
    return {name: int(value) for name, value in counts.items()}


def _thop(module: Any, net: Network) -> int:
    import torch

    thop = pytest.importorskip("thop")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total, _ = thop.profile(module, inputs=(torch.zeros(net.input_shape),), verbose=False)
    return int(total)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_each_counter_is_convcli_macs_plus_what_the_page_says(name: str) -> None:
    pytest.importorskip("torch")
    spec, params = NETWORKS[name]
    net = walk_network(parse_spec(spec), SHAPE)
    assert net.error is None and net.params == params
    counts = _counts(torch_network(net).eval(), net)
    counts["thop"] = _thop(torch_network(net).eval(), net)  # thop adds buffers to a module
    extras = _page_extras(net)
    assert counts == {counter: net.macs + extra for counter, extra in extras.items()}
