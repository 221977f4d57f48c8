"""`convcli net`: shapes, parameters, cost and receptive field through a stack of layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from convcli.cli._app import app, guard, shown
from convcli.cli._common import (
    JsonOpt,
    MaxMemoryOpt,
    memory_budget,
    naming,
    option,
    show,
    show_json,
    write_stdout,
)
from convcli.cli._wording import option_words
from convcli.errors import OptionError
from convcli.i18n import _, ngettext

if TYPE_CHECKING:
    from collections.abc import Mapping

    from convcli.shapes.modules import ModuleRow, Origin
    from convcli.shapes.netspec import LayerSpec
    from convcli.shapes.network import Network
    from convcli.tensorio.onnxgraph import OnnxGraph


@app.command()
def net(
    spec: Annotated[
        str | None,
        typer.Argument(
            metavar="[SPEC]",
            help="Layers joined by '>', e.g. \"conv(6, k=5) > relu > maxpool(2)\", or @FILE.",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            metavar="NAME",
            help="One of d2l's networks: lenet, alexnet, vgg11, nin, googlenet, resnet18, "
            "densenet; or mobilenet_v2 (torchvision's), unet (four levels, 1x1x256x256).",
        ),
    ] = None,
    input_shape: Annotated[
        str | None,
        typer.Option(
            "--input-shape",
            metavar="SHAPE",
            help="NxCxHxW (CxHxW means N=1; NxF for linear layers only), or pasted: "
            "(1, 3, 32, 32), torch.Size([1, 3, 32, 32]); a preset's default is the book's.",
        ),
    ] = None,
    dtype: Annotated[
        str,
        typer.Option(
            "--dtype",
            metavar="DTYPE",
            help="float32 | float16 | bfloat16 | float64: memory totals.",
        ),
    ] = "float32",
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="[LAYER:]I,J",
            help="Trace output cell I,J of LAYER (default: the last spatial layer) back to the "
            "input rows and columns it is computed from.",
        ),
    ] = None,
    emit: Annotated[
        str | None,
        typer.Option(
            "--emit", metavar="torch", help="Print a PyTorch script that builds the same network."
        ),
    ] = None,
    depth: Annotated[
        str | None,
        typer.Option(
            "--depth",
            metavar="N",
            help="Fold blocks deeper than N into one row each (their sums), as torchinfo's "
            "depth: 1 shows the top-level layers (of an ONNX file or pasted print(model) "
            "text: its modules); 'all' every layer (the default where one line per layer fits "
            "the terminal, which otherwise starts at 1). --json keeps every layer, each "
            "with its level.",
        ),
    ] = None,
    bias: Annotated[
        bool,
        typer.Option(
            "--bias/--no-bias",
            help="Whether conv, convT and linear layers that do not say bias= have a bias, "
            "as torch.nn's default bias=True (--no-bias: they have none).",
        ),
    ] = True,
    training: Annotated[
        bool,
        typer.Option(
            "--training",
            help="Also training's cost: per layer the backward MACs and the bytes autograd "
            "keeps; parameters, gradients, optimizer state and kept activations.",
        ),
    ] = False,
    optimizer: Annotated[
        str,
        typer.Option("--optimizer", metavar="NAME", help="With --training: sgd | momentum | adam."),
    ] = "sgd",
    in_order: Annotated[
        bool,
        typer.Option(
            "--in-order",
            help="Read a custom module's children in pasted print(model) text (Net(, "
            "AlexNet(, ResNet() as a chain in printed order; the output says so, since its "
            "forward is not printed.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Work a stack of layers through: output shapes, parameters, MACs, receptive field.

    \b
    Layers (a spec joins them with >):
      conv(out_channels, kernel_size, stride, padding,
          dilation, groups, bias, padding_mode)
      convT(out_channels, kernel_size, stride, padding,
          output_padding, groups, bias, dilation)
      maxpool(kernel_size, stride, padding, dilation,
          ceil_mode)
      avgpool(kernel_size, stride, padding, ceil_mode,
          count_include_pad)
      adaptiveavgpool(output_size), gap
      adaptivemaxpool(output_size)
      bn, relu, sigmoid, tanh, gelu, silu, leakyrelu
      relu6, hardswish, hardsigmoid, mish, elu, prelu,
          softmax(dim)
      groupnorm(num_groups), layernorm2d,
          layernorm(normalized_shape), instancenorm
      dropout(p), dropout2d(p), flatten,
          linear(out_features)
      zeropad(padding), upsample(size, scale_factor,
          mode), shuffle(groups)
      residual(BLOCK, shortcut=BLOCK)
      concat(A | B | ...), add(A | B | ...),
          mul(A | B | ...), chunk(n, A | B | ...)
      se(squeeze, act, gate), repeat(n, BLOCK)

    The short keys k, s, p, d, g name kernel_size, stride, padding, dilation, groups. Lines
    of print(model) (Conv2d(3, 16, kernel_size=(3, 3)), ReLU(), ...) are layers too. Nothing
    in a spec is evaluated.

    \b
    Examples:
      convcli net --preset lenet
      convcli net --input-shape 1x1x28x28 \\
          "conv(6, k=5, p=2) > sigmoid > avgpool(2) > flatten > linear(10)"
      convcli net @arch.txt --input-shape 1x3x224x224 --json
      convcli net "residual(conv(64, k=3, p=1) > bn > relu > conv(64, k=3, p=1) > bn) > relu" \\
          --input-shape 1x64x56x56
      convcli net "convT(8, k=4, s=2, p=1) > conv(1, k=3)" \\
          --input-shape 1x16x8x8 --at 5,5
      convcli net --preset resnet18 --depth 1
      convcli net --preset vgg11 --no-bias
      convcli net --preset resnet18 --emit torch > resnet18.py
      convcli net --preset lenet --training --optimizer adam
      convcli net "se(16) > concat(identity | conv(32, k=3, p=1))" \\
          --input-shape 1x64x28x28
      convcli net resnet18.onnx --depth 2

    A SPEC ending in .onnx is an ONNX model file (the onnx extra: pip install
    'convcli[onnx]'): its graph is read, its weights are not.
    """
    with guard(), option_words():
        from convcli.render.net import net_payload, net_report, net_table
        from convcli.render.torchcode import torch_script
        from convcli.shapes.network import DTYPE_SIZES, trace_cell, walk_network
        from convcli.shapes.parsing import parse_shape

        if dtype not in DTYPE_SIZES:
            raise OptionError(
                _("--dtype: expected one of {join_DTYPE_SIZES}, got {dtype!r}").format(
                    join_DTYPE_SIZES=", ".join(DTYPE_SIZES), dtype=dtype
                )
            )
        if emit is not None and emit != "torch":
            raise OptionError(_("--emit: only 'torch' is known, got {emit!r}").format(emit=emit))
        if emit is not None and (as_json or at is not None):
            raise OptionError(_("--emit prints a script: give it without --json and --at"))
        from convcli.shapes.training import OPTIMIZERS

        if optimizer not in OPTIMIZERS:
            raise OptionError(
                _("--optimizer: expected one of {names}, got {optimizer!r}").format(
                    names=", ".join(OPTIMIZERS), optimizer=optimizer
                )
            )
        if optimizer != "sgd" and not training:
            raise OptionError(_("--optimizer needs --training"))
        if training and emit is not None:
            raise OptionError(_("--emit prints a script: give it without --training"))
        given = (
            option("--input-shape", lambda t: parse_shape(t, ndims=(2, 3, 4)), input_shape)
            if input_shape is not None
            else None
        )
        onnx_graph = None
        if spec is not None and spec.lower().endswith(".onnx") and preset is None:
            from convcli.shapes.netspec import parse_spec
            from convcli.tensorio.onnxgraph import read_onnx

            if not bias or in_order:
                raise OptionError(
                    _(
                        "{option}: an ONNX file says which layers have a bias and how they "
                        "are wired; give it without {option}"
                    ).format(option="--no-bias" if not bias else "--in-order")
                )
            if given is not None and len(given) == 3:
                given = (1, *given)  # CxHxW: N=1, as for specs
            onnx_graph = read_onnx(spec, max_bytes=memory_budget(max_memory), input_shape=given)
            layers = parse_spec(onnx_graph.spec, source=shown(spec), bias=True)
            default_shape: tuple[int, ...] | None = onnx_graph.input_shape
        else:
            layers, default_shape = _layers(spec, preset, bias, in_order)
        if input_shape is None and default_shape is None:
            raise OptionError(_("give --input-shape NxCxHxW (e.g. 1x1x28x28) for a spec"))
        shape = given if given is not None else default_shape
        assert shape is not None
        if len(shape) == 3:
            shape = (1, *shape)
        cell = None if at is None else option("--at", _parse_at, at)
        levels = None if depth is None else option("--depth", _parse_depth, depth)
        budget = memory_budget(max_memory)
        from convcli.ops.budget import check_budget, estimate_net
        from convcli.shapes.netspec import count_layers

        # Sized from the parsed spec before any row is built (repeats make many).
        estimate = estimate_net(
            count_layers(layers), as_json=as_json, emit=emit is not None, training=training
        )
        check_budget(estimate, budget)
        network = walk_network(layers, shape)
        origins = None
        if onnx_graph is not None and network.error is None:
            from convcli.shapes.modules import row_origins

            origins = row_origins(network, onnx_graph.origins)
        elif network.error is None and (levels is not None or as_json):
            from convcli.shapes.modules import printed_origins

            # Pasted print(model) text: the modules it names, as an ONNX file's nodes do.
            origins = printed_origins(network)
        if network.error is not None:
            if not as_json and emit is None and network.rows:
                show(net_table(network))
            raise network.error
        trace = None
        if cell is not None:
            with naming("--at"):
                trace = trace_cell(network, cell[1], cell[0])
        if trace is None and not as_json and _nonuniform(network):
            # Fields differ from cell to cell: state one, the centre cell's.
            last = [row for row in network.rows if row.spatial][-1]
            centre = ((last.output_shape[2] - 1) // 2, (last.output_shape[3] - 1) // 2)
            trace = trace_cell(network, centre)
        if emit is not None:
            write_stdout(torch_script(network))
            return
        memory = None
        if training:
            from convcli.shapes.training import training_memory

            memory = training_memory(network, DTYPE_SIZES[dtype], optimizer)
        if as_json:
            payload = net_payload(
                network, dtype, trace, levels, bias=bias, onnx=onnx_graph is not None
            )
            if onnx_graph is not None or origins is not None:
                from convcli.render.modules import annotate_layers, module_payload

                if origins is not None:
                    annotate_layers(payload["layers"], origins, printed=onnx_graph is None)
                tree = _module_tree(network, origins, levels)
                if tree is not None:
                    payload["modules"] = module_payload(tree)
            if onnx_graph is not None:
                payload["onnx"] = {
                    "nodes": onnx_graph.nodes,
                    "shared_params": onnx_graph.shared,
                    "params_counted_once": payload["total"]["params"] - onnx_graph.shared,
                    "elementwise_weights": onnx_graph.elementwise,
                    "uncounted": dict(onnx_graph.uncounted),
                    "stopped_at": None
                    if onnx_graph.stopped is None
                    else {"node": onnx_graph.stopped[0], "op": onnx_graph.stopped[1]},
                }
            if memory is not None:
                from convcli.render.training import training_payload

                payload["training"] = training_payload(memory, dtype, origins)
            show_json(payload)
            return
        table = None
        notes = _onnx_notes(onnx_graph)
        if origins is not None:
            from convcli.shapes.modules import relabel

            # A row standing for an operator convcli does not know: its name and "?".
            marked = {i: f"{o.unknown} ?" for i, o in origins.items() if o.unknown}
            network = relabel(network, marked)
        if (onnx_graph is not None or origins is not None) and levels is not None:
            from convcli.render.modules import NO_MODULES_NOTE, module_notes, module_table

            tree = _module_tree(network, origins, levels)
            if tree is not None:
                table = module_table(tree, network.input_shape, network.params)
                traced = None if trace is None else trace.index
                notes = module_notes(tree, traced, printed=onnx_graph is None) + notes
            else:
                notes.insert(0, _(NO_MODULES_NOTE))
        report = net_report(
            network,
            dtype,
            trace,
            depth=levels,
            fold_narrow=depth is None,
            bias=bias,
            onnx=onnx_graph is not None,
            table=table,
        )
        if memory is not None:
            from convcli.render.training import training_report

            report.extend(training_report(memory, dtype, origins))
        show(*report, *notes)


def _module_tree(
    network: Network, origins: Mapping[str, Origin] | None, depth: int | None
) -> tuple[ModuleRow, ...] | None:
    """The rows grouped by the modules in the node names (or that pasted print(model)
    text names), or None where there is no depth or nothing names a module."""
    if depth is None or origins is None:
        return None
    if all(origin.scope is None for origin in origins.values()):
        return None
    from convcli.shapes.modules import module_tree

    return module_tree(network, origins, depth)


def _onnx_notes(graph: OnnxGraph | None) -> list[str]:
    if graph is None:
        return []
    notes: list[str] = []
    if any(origin.unknown for origin in graph.origins):
        from convcli.render.modules import UNKNOWN_NOTE

        notes.append(_(UNKNOWN_NOTE))
    if graph.shared:
        notes.append(
            _(
                "Weights read by more than one node: {shared:,} elements, counted in each "
                "node's params; the file holds {shared:,} fewer."
            ).format(shared=graph.shared)
        )
    if graph.elementwise:
        notes.append(
            _(
                "Weights of elementwise Add, Sub, Mul or Div nodes (a layer scale, a "
                "normalisation): {count:,} elements, in no layer's params."
            ).format(count=graph.elementwise)
        )
    if graph.uncounted:
        listed = ", ".join(f"{op} x{count}" for op, count in graph.uncounted)
        total = sum(count for _op, count in graph.uncounted)
        notes.append(
            ngettext(
                "Not counted (operators convcli does not know, shape kept): {listed}; "
                "{total} node.",
                "Not counted (operators convcli does not know, shape kept): {listed}; "
                "{total} nodes.",
                total,
            ).format(listed=listed, total=total)
        )
    if graph.stopped is not None:
        notes.append(
            _(
                "Stopped at node {node} ({op}): an operator convcli does not know, whose "
                "output shape the file does not give; the table ends before it."
            ).format(node=graph.stopped[0], op=graph.stopped[1])
        )
    return notes


def _nonuniform(network: Network) -> bool:
    return any(row.spatial and None in row.fields for row in network.rows)


def _layers(
    spec: str | None, preset: str | None, bias: bool, in_order: bool = False
) -> tuple[tuple[LayerSpec, ...], tuple[int, ...] | None]:
    from convcli.shapes.netspec import parse_spec
    from convcli.shapes.presets import PRESETS

    if (spec is None) == (preset is None):
        raise OptionError(
            _("give a SPEC (layers joined by '>', or @FILE) or --preset NAME, one of them")
        )
    if preset is not None:
        if preset not in PRESETS:
            raise OptionError(
                _("--preset: expected one of {join_PRESETS}, got {preset!r}").format(
                    join_PRESETS=", ".join(PRESETS), preset=preset
                )
            )
        chosen = PRESETS[preset]
        return parse_spec(
            chosen.spec, source=_("preset {name}").format(name=preset), bias=bias
        ), chosen.input_shape
    assert spec is not None
    if spec.startswith("@"):
        path = spec[1:]
        text = _read_spec_file(path)
        return parse_spec(text, source=shown(path), bias=bias, in_order=in_order), None
    return parse_spec(spec, bias=bias, in_order=in_order), None


def _read_spec_file(path: str) -> str:
    from convcli.shapes.netspec import MAX_SPEC_CHARS
    from convcli.tensorio.files import read_text_file

    # A character is at most 4 bytes of UTF-8: the spec's own cap, in bytes.
    return read_text_file(path, max_bytes=4 * MAX_SPEC_CHARS)


def _parse_depth(text: str) -> int | None:
    """``--depth``: a level >= 1, or ``all`` (None: nothing folded).

    >>> _parse_depth("2"), _parse_depth(" ALL ")
    (2, None)
    """
    from convcli.shapes.parsing import parse_whole

    if text.strip().lower() == "all":
        return None
    try:
        return parse_whole(text, minimum=1)
    except OptionError:
        raise OptionError(
            _("expected a level N >= 1 or 'all', got {text!r}").format(text=text)
        ) from None


def _parse_at(text: str) -> tuple[int | None, tuple[int, int]]:
    from convcli.shapes.parsing import parse_int_or_pair, parse_position

    layer: int | None = None
    cell_text = text
    if ":" in text:
        layer_text, cell_text = text.split(":", 1)
        number = parse_int_or_pair(layer_text, minimum=1)
        if not isinstance(number, int):
            raise OptionError(
                _("expected LAYER:I,J with one layer number, got {text!r}").format(text=text)
            )
        layer = number
    cell = parse_position(cell_text)
    if len(cell) != 2:
        raise OptionError(_("expected I,J (a row and a column), got {text!r}").format(text=text))
    return layer, (cell[0], cell[1])
