"""The lesson's names for the axes of an input, a kernel and an output.

Pure Python: the one home of the axis names every report and position uses.
"""

from __future__ import annotations

__all__ = ["axis_names", "output_axes"]


def axis_names(role: str, ndim: int, *, groups: int = 1) -> tuple[str, ...]:
    """The lesson's names for the axes of an input, kernel or output of rank ``ndim``.

    Examples
    --------
    >>> axis_names("input", 3)
    ('c_i', 'n_h', 'n_w')
    >>> axis_names("kernel", 4, groups=2)
    ('c_o', 'c_i/g', 'k_h', 'k_w')
    """
    per_group = "c_i/g" if groups > 1 else "c_i"
    names = {
        "input": {2: ("n_h", "n_w"), 3: ("c_i", "n_h", "n_w"), 4: ("n", "c_i", "n_h", "n_w")},
        "kernel": {
            2: ("k_h", "k_w"),
            3: ("c_i", "k_h", "k_w"),
            4: ("c_o", per_group, "k_h", "k_w"),
        },
        "output": {2: ("m_h", "m_w"), 3: ("c_o", "m_h", "m_w"), 4: ("n", "c_o", "m_h", "m_w")},
    }
    return names[role].get(ndim, tuple(f"d{i}" for i in range(ndim)))


def output_axes(input_ndim: int, kernel_ndim: int) -> tuple[str, ...]:
    """The axes of a result, as ``run`` reads the kernel by its rank (a position indexes them).

    A batch axis ``n`` with a 4-D input, an output-channel axis ``c_o`` with a 4-D kernel
    (2-D and 3-D kernels give one output channel, which the result drops).

    Examples
    --------
    >>> output_axes(3, 4), output_axes(3, 3), output_axes(4, 3)
    (('c_o', 'm_h', 'm_w'), ('m_h', 'm_w'), ('n', 'm_h', 'm_w'))
    """
    batch = ("n",) if input_ndim == 4 else ()
    channels = ("c_o",) if kernel_ndim == 4 else ()
    return (*batch, *channels, "m_h", "m_w")
