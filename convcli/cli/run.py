"""`convcli run` and `convcli demo`: compute, and replay the lesson."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convcli.cli._app import app, guard, say, shown
from convcli.cli._common import (
    BiasOpt,
    DilationOpt,
    FlipOpt,
    ForceOpt,
    FullOpt,
    GroupsOpt,
    InputArg,
    InputLayoutOpt,
    JsonOpt,
    KernelArg,
    KernelLayoutOpt,
    MaxMemoryOpt,
    PaddingModeOpt,
    PaddingOpt,
    PlotOpt,
    ResultFileOpt,
    StrideOpt,
    TensorInfo,
    check_memory,
    check_plot,
    conv_options,
    held_files,
    json_text,
    layouts,
    memory_budget,
    naming_inputs,
    note_layouts,
    option_flags,
    progress_bar,
    publish,
    show,
    wants_transposed,
    write_plot,
    write_stdout,
)
from convcli.cli._loading import load_checked
from convcli.cli._wording import option_words
from convcli.cli.layers import OutputPaddingOpt, OutputSizeOpt, TransposedOpt
from convcli.errors import OptionError
from convcli.i18n import _, ngettext

if TYPE_CHECKING:
    from convcli.tensorio.files import StagedOutput


@app.command()
def run(
    input_file: InputArg,
    kernel_file: KernelArg,
    bias_file: BiasOpt = None,
    mode: Annotated[
        str, typer.Option("--mode", "-m", metavar="MODE", help="auto | multi-in | multi-out | 1x1.")
    ] = "auto",
    stride: StrideOpt = "1",
    padding: PaddingOpt = "0",
    dilation: DilationOpt = "1",
    groups: GroupsOpt = "1",
    padding_mode: PaddingModeOpt = "zeros",
    flip: FlipOpt = False,
    output: ResultFileOpt = None,
    force: ForceOpt = False,
    full: FullOpt = False,
    stats: Annotated[
        bool,
        typer.Option(
            "--stats",
            help="Print the shapes, the geometry and the result's statistics (min, max, "
            "mean), not its values; the default with --output.",
        ),
    ] = False,
    show_values: Annotated[
        bool, typer.Option("--show", help="With --output: print the result's values too.")
    ] = False,
    heatmap: Annotated[
        bool,
        typer.Option(
            "--heatmap",
            help="Colour the result's cells by value (diverging around 0 when signed); "
            "plain under NO_COLOR or when not a terminal.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
    plot: PlotOpt = None,
    transposed: TransposedOpt = False,
    output_padding: OutputPaddingOpt = None,
    output_size: OutputSizeOpt = None,
    input_layout: InputLayoutOpt = "nchw",
    kernel_layout: KernelLayoutOpt = "oihw",
) -> None:
    """Compute a convolution and print its shapes and result.

    --mode auto reads the kernel by its rank: 2-D corr2d, 3-D multi-in (per-channel
    cross-correlations summed), 4-D multi-out (conv2d, every option applies).

    --mode multi-in | multi-out | 1x1 run the lesson's own functions.

    \b
    Examples:
      convcli run samples/lesson_X.json samples/lesson_K_multi_in.json
      convcli run samples/lesson_X.npy samples/lesson_K_multi_out.npy --padding 1 --stride 2
      convcli run x.npy w.npy --bias b.npy --groups 2 --output y.npy --json
      convcli run samples/lesson_X.json samples/lesson_K_multi_in.json -p 1 --padding-mode reflect
      convcli run samples/lesson_X.json samples/lesson_K_multi_in.json --flip
      convcli run samples/lesson_X.json samples/lesson_K_multi_out.json -p 1 --heatmap
      convcli run samples/lesson_X.json samples/lesson_K_multi_out.json --plot y.png
      convcli run x.npy w.npy --transposed --stride 2 --padding 1 --output-size 32,32
    """
    with guard(), option_words():
        chosen = layouts(input_layout, kernel_layout)
        if wants_transposed(transposed, output_padding, output_size):
            from convcli.cli.layers import run_transposed_command, transposed_options

            if mode != "auto" or padding_mode != "zeros" or flip:
                raise OptionError(
                    _(
                        "--transposed computes conv_transpose2d, which has no --mode, "
                        "--padding-mode or --flip"
                    )
                )
            run_transposed_command(
                input_file,
                kernel_file,
                bias_file,
                transposed_options(stride, padding, dilation, groups, output_padding, output_size),
                output=output,
                force=force,
                full=full,
                heatmap=heatmap,
                as_json=as_json,
                max_memory=max_memory,
                plot=plot,
                stats_only=stats or (output is not None and not show_values),
                layouts=chosen,
            )
            note_layouts(chosen, None, None)
            return
        from convcli.ops.modes import MODES, check_mode_shapes, planned_output, run_convolution
        from convcli.render.run import run_payload, run_report
        from convcli.tensorio.files import check_output_path

        if mode not in MODES:
            raise OptionError(
                _("--mode: expected one of {join_MODES}, got {mode!r}").format(
                    join_MODES=", ".join(MODES), mode=mode
                )
            )
        options = conv_options(stride, padding, dilation, groups, padding_mode, flip)
        if mode != "auto" and options.changed():
            raise OptionError(
                _(
                    "--mode {mode} runs the lesson's function, which has no "
                    "{join_option_flags_options}: use --mode auto (conv2d) for them"
                ).format(mode=mode, join_option_flags_options=", ".join(option_flags(options)))
            )
        files = (input_file, kernel_file, bias_file)
        inputs = [spec for spec in files if spec is not None]
        if output is not None:
            check_output_path(output, force=force, inputs=inputs)
        if plot is not None:
            check_plot(plot, force=force, inputs=inputs)
        budget = memory_budget(max_memory)
        as_text = as_json or (output or "").lower().endswith(".json")

        def sizing(infos: Sequence[TensorInfo | None]) -> None:
            x_info, k_info, b_info = infos
            if x_info is not None and k_info is not None:
                bias_shape = None if b_info is None else b_info[0]
                check_mode_shapes(mode, x_info[0], k_info[0], bias_shape, options)
            check_memory(budget, infos, options, as_json=as_text, plot=plot is not None)

        x, kernel, bias = load_checked(files, budget, sizing, chosen)
        assert x is not None and kernel is not None
        compute = functools.partial(run_convolution, x, kernel, bias, mode=mode, options=options)
        streaming = output is not None and output.lower().endswith(".npy") and mode == "auto"
        # The files are renamed into place only once the report is printed: a failure
        # anywhere before (computing, writing, a full or closed stdout) leaves none.
        with held_files() as held:
            with staged(output, force=force, inputs=inputs) as target:
                with naming_inputs(files):
                    if target is not None and streaming:
                        # Written as it is computed: the result is never held twice in memory.
                        shape, dtype = planned_output(x, kernel, bias, options)
                        out = target.memory_map(shape, dtype)
                        with progress_bar(not as_json) as progress:
                            result = compute(progress=progress, out=out)
                        out.flush()
                    else:
                        with progress_bar(not as_json) as progress:
                            result = compute(progress=progress)
                if target is not None:
                    if not streaming:
                        target.write(result.output)
                    target.commit()  # held: renamed by publish
            if plot is not None:  # a picture beside the result, held as the result is
                write_plot(plot, result.output, result.output_axes, force=force, inputs=inputs)
            if as_json:
                text = json_text(run_payload(result))
                publish(held, lambda: write_stdout(text))
                note_layouts(chosen, x.shape, kernel.shape)
                return
            names = (
                shown(input_file) + (" (NHWC)" if chosen.input == "nhwc" else ""),
                shown(kernel_file) + (" (HWIO)" if chosen.kernel == "hwio" else ""),
                bias_file and shown(bias_file),
            )
            # --output implies --stats: the values went to the file, unless --show asks.
            quiet = stats or (output is not None and not show_values)
            report = run_report(
                result,
                x,
                kernel,
                bias,
                names,
                full=full,
                heatmap=heatmap,
                options=options,
                stats_only=quiet,
            )
            publish(held, lambda: show(*report))
        note_layouts(chosen, x.shape, kernel.shape)
        for path in (output, plot):
            if path is not None:
                say(_("wrote {file}").format(file=shown(path)))


@contextlib.contextmanager
def staged(output: str | None, **checks: Any) -> Iterator[StagedOutput | None]:
    """The staged output file, or ``None`` when the result is not written (``checks``:
    ``staged_output``'s, ``suffixes`` included)."""
    from convcli.tensorio.files import staged_output

    if output is None:
        yield None
        return
    with staged_output(output, **checks) as target:
        yield target


@app.command()
def demo(
    write: Annotated[
        str | None,
        typer.Option(
            "--write",
            metavar="DIR",
            help="Instead of the replay, write the sample files the examples use "
            "(samples/lesson_*.json and .npy) into DIR.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --write: overwrite existing sample files.")
    ] = False,
) -> None:
    """Replay the lesson: multi-in, multi-out with K, K+1, K+2, and the 1x1 check.

    Uses the lesson's tensors built into convcli, so no files are needed. The
    examples' samples/ files come with the repository; --write DIR writes the same
    files anywhere, e.g. --write samples to run the examples from an installed convcli.

    \b
    Examples:
      convcli demo
      convcli demo --write samples
    """
    with guard(prints=write is None), option_words():
        if write is not None:
            from convcli.tensorio.samples import write_samples

            with held_files() as held:
                paths = write_samples(write, force=force)
                publish(held)
            say(
                ngettext(
                    "wrote {n} sample file to {folder}",
                    "wrote {n} sample files to {folder}",
                    len(paths),
                ).format(n=len(paths), folder=shown(write))
            )
            return
        if force:
            raise OptionError(_("--force: only with --write DIR"))
        from convcli.render.reports import demo_report

        show(*demo_report())
