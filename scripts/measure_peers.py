"""The MACs that convcli, torchinfo, fvcore, ptflops and thop count for three torchvision
networks (docs/concepts/costs.md's table). Needs torch, torchinfo, fvcore, ptflops and
thop installed; nothing of convcli depends on them.

    python scripts/measure_peers.py

The networks are written as convcli specs equal to torchvision's resnet18, resnet50 and
mobilenet_v2 (3x224x224, 1000 classes; checked by their parameter counts), built in torch
by ``--emit torch``'s code, and each counter is run on the same module.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

from convcli.render.torchcode import torch_script
from convcli.shapes.netspec import parse_spec
from convcli.shapes.network import Network, walk_network
from convcli.shapes.presets import PRESETS


def torchvision_resnet(blocks: tuple[int, ...], bottleneck: bool) -> str:
    parts = ["conv(64, k=7, s=2, p=3, bias=False) > bn > relu > maxpool(3, s=2, p=1)"]
    inplanes = 64
    for stage, count in enumerate(blocks):
        planes = 64 * 2**stage
        out = planes * (4 if bottleneck else 1)
        for i in range(count):
            stride = 2 if i == 0 and stage > 0 else 1
            if bottleneck:
                body = (
                    f"conv({planes}, k=1, bias=False) > bn > relu > "
                    f"conv({planes}, k=3, s={stride}, p=1, bias=False) > bn > relu > "
                    f"conv({out}, k=1, bias=False) > bn"
                )
            else:
                body = (
                    f"conv({planes}, k=3, s={stride}, p=1, bias=False) > bn > relu > "
                    f"conv({planes}, k=3, p=1, bias=False) > bn"
                )
            short = ""
            if stride != 1 or inplanes != out:
                short = f", shortcut=conv({out}, k=1, s={stride}, bias=False) > bn"
            parts.append(f"residual({body}{short}) > relu")
            inplanes = out
    parts.append("adaptiveavgpool((1, 1)) > flatten > linear(1000)")
    return " > ".join(parts)


NETWORKS = {
    "resnet18": (torchvision_resnet((2, 2, 2, 2), False), 11_689_512),
    "resnet50": (torchvision_resnet((3, 4, 6, 3), True), 25_557_032),
    "mobilenet_v2": (PRESETS["mobilenet_v2"].spec, 3_504_872),
}


def torch_module(net: Network) -> Any:
    namespace: dict[str, Any] = {}
    exec(torch_script(net).split("\nx = torch.zeros")[0], namespace)
    return namespace["net"].eval()


def main() -> None:
    import fvcore.nn
    import ptflops
    import thop
    import torch
    import torchinfo

    warnings.filterwarnings("ignore")
    print("| network | convcli MACs | torchinfo | fvcore | ptflops | thop |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (spec, params) in NETWORKS.items():
        net = walk_network(parse_spec(spec), (1, 3, 224, 224))
        assert net.error is None and net.params == params, (name, net.params)
        module = torch_module(net)
        x = torch.zeros(1, 3, 224, 224)
        info = torchinfo.summary(module, input_data=x, verbose=0).total_mult_adds
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            fv = fvcore.nn.FlopCountAnalysis(module, x)
            fv.unsupported_ops_warnings(False)
            fv.uncalled_modules_warnings(False)
            fv_total = fv.total()
            pt, _ = ptflops.get_model_complexity_info(
                module,
                (3, 224, 224),
                as_strings=False,
                print_per_layer_stat=False,
                backend="pytorch",
            )
            th, _ = thop.profile(torch_module(net), inputs=(x,), verbose=False)
        cells = [f"{int(value):,}" for value in (net.macs, info, fv_total, pt, th)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
