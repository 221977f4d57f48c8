"""`convcli learn`: the kernel is learned by gradient descent (d2l 6.2.4)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from convcli.cli._app import app, guard, say, shown
from convcli.cli._common import (
    ForceOpt,
    JsonOpt,
    MaxMemoryOpt,
    check_plot,
    check_stdin_once,
    held_files,
    load,
    memory_budget,
    number,
    option,
    peek,
    publish,
    show,
    show_json,
    whole,
)
from convcli.cli._loading import check_reading_budget
from convcli.cli._wording import option_words
from convcli.errors import NumericError, OptionError
from convcli.i18n import _

EXAMPLES = ("edges",)


def _planar(array: Any) -> Any:
    """``array`` without its leading axes of size 1 (a one-channel tensor is a plane)."""
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    return array


@app.command()
def learn(
    input_file: Annotated[
        str | None, typer.Argument(metavar="[INPUT]", help="Input X (n_h, n_w).")
    ] = None,
    target_file: Annotated[
        str | None,
        typer.Argument(metavar="[TARGET]", help="Target Y (n_h - k_h + 1, n_w - k_w + 1)."),
    ] = None,
    kernel_shape: Annotated[
        str | None,
        typer.Option("--kernel-shape", metavar="KH,KW", help="The kernel to learn, e.g. 1,2."),
    ] = None,
    lr: Annotated[str, typer.Option("--lr", metavar="LR", help="Learning rate.")] = "0.03",
    epochs: Annotated[str, typer.Option("--epochs", metavar="N", help="Steps.")] = "10",
    init: Annotated[
        str,
        typer.Option(
            "--init",
            metavar="INIT",
            help="zeros | random (nn.Conv2d's uniform bound, numpy's numbers) | a kernel FILE.",
        ),
    ] = "zeros",
    seed: Annotated[
        str | None, typer.Option("--seed", metavar="S", help="With --init random.")
    ] = None,
    bias: Annotated[bool, typer.Option("--bias", help="Learn a bias too (from 0).")] = False,
    example: Annotated[
        str | None,
        typer.Option(
            "--example",
            metavar="NAME",
            help="edges: d2l's 6x8 image with a dark band, the target made with [[1, -1]].",
        ),
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot", metavar="FILE", help="Draw the loss curve to a .png or .svg (convcli[draw])."
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the learned kernel (.npy or .json)."
        ),
    ] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    max_memory: MaxMemoryOpt = None,
) -> None:
    """Learn a kernel by gradient descent on the summed squared error.

    Each epoch: Y_hat = corr2d(X, K) (+ b), the loss sum((Y_hat - Y)**2), the gradient
    dL/dK (the correlation of X with 2*(Y_hat - Y)) and one step K -= lr * dL/dK, as
    torch.optim.SGD takes it. The loss is the one before each step, as d2l prints it.

    \b
    Examples:
      convcli learn --example edges
      convcli learn --example edges --init random --seed 1 --plot loss.png
      convcli learn x.npy y.npy --kernel-shape 1,2 --lr 0.03 --epochs 10 -o k.npy
      convcli learn x.npy y.npy --kernel-shape 3,3 --bias --json
    """
    with guard(), option_words():
        import numpy as np

        from convcli.ops.budget import check_budget, estimate_learn
        from convcli.ops.learn import edges_example, learn_kernel, random_kernel
        from convcli.render.learn import learn_payload, learn_report
        from convcli.shapes.parsing import parse_int_or_pair
        from convcli.tensorio.files import check_output_path, save_tensor

        rate = number("--lr", lr)
        assert rate is not None
        from convcli.ops.learn import MAX_EPOCHS

        steps = whole("--epochs", epochs, minimum=1)
        if steps > MAX_EPOCHS:
            raise OptionError(
                _("--epochs: at most {most}, got {epochs}").format(most=MAX_EPOCHS, epochs=steps)
            )
        if rate <= 0 or not np.isfinite(rate):
            raise OptionError(_("--lr: expected a positive number, got {lr}").format(lr=lr))
        goal = None
        if example is not None:
            if example not in EXAMPLES:
                raise OptionError(
                    _("--example: expected one of {names}, got {name!r}").format(
                        names=", ".join(EXAMPLES), name=example
                    )
                )
            if input_file is not None or target_file is not None:
                raise OptionError(_("give either INPUT TARGET or --example"))
        elif input_file is None or target_file is None:
            raise OptionError(_("give INPUT and TARGET files, or --example edges"))
        inputs = [s for s in (input_file, target_file, init) if s not in (None, "zeros", "random")]
        check_stdin_once(inputs)
        if output is not None:
            check_output_path(output, force=force, inputs=inputs)
        if plot is not None:
            check_plot(plot, force=force, inputs=inputs)
        if kernel_shape is not None:
            parsed = option(
                "--kernel-shape", lambda t: parse_int_or_pair(t, minimum=1), kernel_shape
            )
            shape = (parsed, parsed) if isinstance(parsed, int) else (parsed[0], parsed[1])
        elif example is not None:
            shape = (1, 2)
        elif init in ("zeros", "random"):
            raise OptionError(_("give --kernel-shape KH,KW (or --init FILE)"))
        else:
            shape = None
        budget = memory_budget(max_memory)
        init_file = None if init in ("zeros", "random") else init
        check_reading_budget(
            [(input_file, "input"), (target_file, "target"), (init_file, "kernel")], budget
        )
        if input_file is not None and target_file is not None:
            info = peek(input_file, "input")
            if info is not None:
                check_budget(estimate_learn(info[0], shape or (1, 1), steps), budget)
            x = load(input_file, "input")
            y = load(target_file, "target")
        else:
            x, y = edges_example()
            goal = np.array([[1.0, -1.0]])
        start: Any
        x, y = _planar(x), _planar(y)  # (1, h, w) and (1, 1, h, w) are one plane
        if init == "zeros":
            assert shape is not None
            start = np.zeros(shape)
        elif init == "random":
            assert shape is not None
            start = random_kernel(shape, None if seed is None else whole("--seed", seed, minimum=0))
        else:
            start = _planar(load(init, "kernel"))
            if shape is not None and start.shape != shape:
                raise OptionError(
                    _("--init: the kernel is {got}, but --kernel-shape is {want}").format(
                        got="x".join(map(str, start.shape)), want="x".join(map(str, shape))
                    )
                )
        if seed is not None and init != "random":
            raise OptionError(_("--seed is for --init random"))
        check_budget(estimate_learn(x.shape, start.shape, steps), budget)
        for role, spec, array in (("input", input_file, x), ("target", target_file, y)):
            if array.dtype.kind == "c":
                raise NumericError(
                    _("{role} {file}: complex values; learn works on real numbers").format(
                        role=_(role), file=shown(spec or "")
                    )
                )
        if start.dtype.kind == "c":
            raise NumericError(
                _("--init {file}: complex values; learn works on real numbers").format(
                    file=shown(init)
                )
            )
        run = learn_kernel(x, y, start, lr=rate, epochs=steps, bias=0.0 if bias else None)
        # Files go into place only once the report is printed (a failed stdout writes none).
        with held_files() as held:
            if output is not None:
                save_tensor(output, run.kernel, force=force, inputs=inputs)
            if plot is not None:
                from convcli.draw.curve import plot_losses

                plot_losses(run.losses, plot, force=force, inputs=inputs)
            if as_json:
                publish(held, lambda: show_json(learn_payload(run, rate)))
                return
            publish(held, lambda: show(*learn_report(run, rate, goal=goal)))
        for written in (output, plot):
            if written is not None:
                say(_("wrote {file}").format(file=shown(written)))
