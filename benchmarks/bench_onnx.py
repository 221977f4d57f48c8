"""`convcli net resnet50.onnx` beside `onnx.load` + `onnx.shape_inference.infer_shapes`.

Exports a ResNet-50 (torchvision's layout: Bottleneck blocks [3, 4, 6, 3], widths 64 to
512, 1000 classes; written here since torchvision is not needed) with PyTorch's
TorchScript exporter at 1x3x224x224 into a temporary folder (or reads --model FILE), then
times, best of --rounds each:

- the whole command, ``convcli net FILE`` in a fresh process (wall time, start-up included);
- ``onnx.load`` + ``infer_shapes`` on the same file, in a fresh process (``import onnx``
  included) and in this one (warm);
- convcli's reader alone (``read_onnx`` + the walk) in one process;
- the whole command in this process (imports done: reading, walking and rendering the
  table).

Like is set beside like: a fresh process beside a fresh process, work in this process
beside work in this process. The last line, the fresh command beside the peer's warm
work, charges convcli the interpreter's start and its imports and the peer neither; it
is printed for reference, not as the comparison. The fresh processes keep their bytecode
(in a temporary ``PYTHONPYCACHEPREFIX``, even where ``PYTHONDONTWRITEBYTECODE`` is set),
as an installed package does, and each is run once before it is timed.

    python benchmarks/bench_onnx.py [--model FILE] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _resnet50(path: Path) -> None:
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int) -> None:
            super().__init__()
            cout = width * 4
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else None
            )

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + identity)

    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for index in range(blocks):
            layers.append(Bottleneck(cin, width, stride if index == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    model = nn.Sequential(*layers).eval()
    torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), str(path), dynamo=False)


def _best(rounds: int, run: object) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="an .onnx file (default: a ResNet-50 exported now)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import warnings

    import onnx

    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.model) if args.model else Path(folder) / "resnet50.onnx"
        if not args.model:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _resnet50(path)
        size = os.path.getsize(path)
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        command = [sys.executable, "-m", "convcli", "net", str(path), "--depth", "1"]

        def cli() -> None:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)

        peer_command = [
            sys.executable,
            "-c",
            "import sys, onnx; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]), "
            "data_prop=True)",
            str(path),
        ]

        def peer_process() -> None:
            subprocess.run(peer_command, check=True, env=env)

        def peer() -> None:
            onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)

        def reader() -> None:
            from convcli.shapes.netspec import parse_spec
            from convcli.shapes.network import walk_network
            from convcli.tensorio.onnxgraph import read_onnx

            graph = read_onnx(str(path), max_bytes=1 << 32)
            walk_network(parse_spec(graph.spec), graph.input_shape)

        def command_in_process() -> None:
            import contextlib
            import io

            from convcli.cli import app

            with contextlib.redirect_stdout(io.StringIO()):
                code = app(command[3:], standalone_mode=False)
            assert code in (0, None), code

        for warm_up in (cli, peer_process, command_in_process):
            warm_up()  # bytecode written, the file in the page cache
        cli_time = _best(args.rounds, cli)
        in_process_time = _best(args.rounds, command_in_process)
        peer_time = _best(args.rounds, peer)
        peer_process_time = _best(args.rounds, peer_process)
        reader_time = _best(args.rounds, reader)
        print(f"model: {path.name}, {size / 1e6:.1f} MB, best of {args.rounds}")
        print(f"convcli net FILE (fresh process, wall) : {cli_time:6.3f} s")
        print(f"onnx.load + infer_shapes (fresh, wall) : {peer_process_time:6.3f} s")
        print(f"onnx.load + infer_shapes (in process)  : {peer_time:6.3f} s")
        print(f"convcli reader + walk (in process)     : {reader_time:6.3f} s")
        print(f"convcli net FILE (in process)          : {in_process_time:6.3f} s")
        print(f"whole command / (load + infer), fresh  : {cli_time / peer_process_time:6.2f}x")
        print(f"whole command / (load + infer), warm   : {in_process_time / peer_time:6.2f}x")
        print(f"reader / (load + infer), warm          : {reader_time / peer_time:6.2f}x")
        unlike = cli_time / peer_time
        print(f"fresh command / warm load + infer      : {unlike:6.2f}x (not like for like)")


if __name__ == "__main__":
    main()
