"""The text of a network: ``conv(6, k=5, p=2) > sigmoid > avgpool(2) > flatten > linear(10)``.

Read with Python's ``ast`` and a whitelist: a layer is a name or a call whose arguments are
literals (numbers, booleans, strings, ``None``, tuples); ``residual(...)`` takes chains.
Nothing is evaluated or imported. Lines that ``print(model)`` writes for torch.nn modules
(``Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2))``, ``(0): ReLU()``, ``Sequential(``)
are layers too. Every refusal is an ``OptionError`` that names the position in the text.
"""

from __future__ import annotations

import ast
import bisect
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import overload

from convcli.errors import OptionError, Param
from convcli.i18n import N_, _
from convcli.shapes.padding_modes import PADDING_MODES
from convcli.shapes.parsing import shorten

__all__ = ["LAYER_NAMES", "LayerSpec", "Scope", "count_layers", "parse_spec"]

# Longer specs are not networks anyone writes by hand; the cap keeps ast.parse cheap.
MAX_SPEC_CHARS = 100_000
MAX_INT = 2**62

Value = (
    int
    | float
    | bool
    | str
    | None
    | tuple[int, ...]
    | tuple[int | None, int | None]
    | tuple[float, float]
)


@dataclass(frozen=True)
class Scope:
    """One module on a layer's path: its name (``layer1.0``) and class (``''``: unknown)."""

    name: str
    kind: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """One layer as written: its kind, its arguments by torch.nn's names, where it stands.

    ``stated`` holds the sizes a torch.nn form states about its input (``in_channels``,
    ``in_features``, ``num_features``), checked against what arrives. ``main`` and
    ``shortcut`` are a residual block's two paths (``shortcut`` empty: identity);
    ``branches`` a join's paths (``concat``, ``add``, ``mul``, ``chunk``), each a chain
    on the join's input (an empty chain is ``identity``).
    """

    kind: str
    args: Mapping[str, Value]
    text: str
    where: str
    stated: Mapping[str, int] = field(default_factory=dict)
    main: tuple[LayerSpec, ...] = ()
    shortcut: tuple[LayerSpec, ...] = ()
    torch_name: str = ""
    branches: tuple[tuple[LayerSpec, ...], ...] = ()
    # Arguments print(model) does not show, taken at PyTorch's defaults (AvgPool2d's).
    assumed: tuple[str, ...] = ()
    # The custom module this layer was read inside, in printed order (``in_order``).
    container: str = ""
    # The modules print(model) shows it in, from the root's children down to the layer's
    # own ((features): Sequential( ... (0): Conv2d(...): features, features.0); None
    # where the text names none (a spec, a line without "(name): ").
    module: tuple[Scope, ...] | None = None


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # int, pos (int >= 1), pair, pair0 (>= 0), padding, bool, float, str, size, any
    default: object = ...


def _p(name: str, kind: str, default: object = ...) -> _Param:
    return _Param(name, kind, default)


_CONV = (
    _p("out_channels", "pos"),
    _p("kernel_size", "pair"),
    _p("stride", "pair", 1),
    _p("padding", "padding", 0),
    _p("dilation", "pair", 1),
    _p("groups", "pos", 1),
    _p("bias", "bool", True),
    _p("padding_mode", "mode", "zeros"),
)
_CONVT = (
    _p("out_channels", "pos"),
    _p("kernel_size", "pair"),
    _p("stride", "pair", 1),
    _p("padding", "pair0", 0),
    _p("output_padding", "pair0", 0),
    _p("groups", "pos", 1),
    _p("bias", "bool", True),
    _p("dilation", "pair", 1),
)
_MAXPOOL = (
    _p("kernel_size", "pair"),
    _p("stride", "optpair", None),
    _p("padding", "pair0", 0),
    _p("dilation", "pair", 1),
    _p("ceil_mode", "bool", False),
)
_AVGPOOL = (
    _p("kernel_size", "pair"),
    _p("stride", "optpair", None),
    _p("padding", "pair0", 0),
    _p("ceil_mode", "bool", False),
    _p("count_include_pad", "bool", True),
    _p("divisor_override", "optpos", None),
)
_BN = (
    _p("eps", "float", 1e-05),
    _p("momentum", "optfloat", 0.1),
    _p("affine", "bool", True),
    _p("track_running_stats", "bool", True),
    # Keyword-only in torch.nn (2.x), after device and dtype.
    _p("bias", "bool", True),
)
_INPLACE = (_p("inplace", "bool", False),)
_GROUPNORM = (
    _p("num_groups", "pos"),
    _p("eps", "float", 1e-05),
    _p("affine", "bool", True),
    _p("bias", "bool", True),
)
_LAYERNORM = (
    _p("normalized_shape", "shape"),
    _p("eps", "float", 1e-05),
    _p("elementwise_affine", "bool", True),
    _p("bias", "bool", True),
)
_INSTANCENORM = (
    _p("eps", "float", 1e-05),
    _p("momentum", "optfloat", 0.1),
    _p("affine", "bool", False),
    _p("track_running_stats", "bool", False),
    # Keyword-only in torch.nn (2.x); printed between affine and track_running_stats.
    _p("bias", "bool", True),
)
_UPSAMPLE = (
    _p("size", "size", None),
    _p("scale_factor", "scale", None),
    _p("mode", "upmode", "nearest"),
    _p("align_corners", "optbool", None),
)
_ELU = (_p("alpha", "float", 1.0), *_INPLACE)
_PRELU = (_p("num_parameters", "pos", 1), _p("init", "float", 0.25))
_SOFTMAX = (_p("dim", "int", 1),)

# Short names: (kind, parameters in torch.nn's order after the stated input size).
_SHORT: dict[str, tuple[str, tuple[_Param, ...]]] = {
    "conv": ("conv", _CONV),
    "convT": ("convT", _CONVT),
    "maxpool": ("maxpool", _MAXPOOL),
    "avgpool": ("avgpool", _AVGPOOL),
    "adaptiveavgpool": ("adaptiveavgpool", (_p("output_size", "size"),)),
    "adaptivemaxpool": ("adaptivemaxpool", (_p("output_size", "size"),)),
    "gap": ("gap", ()),
    "bn": ("bn", _BN),
    "relu": ("relu", _INPLACE),
    "sigmoid": ("sigmoid", ()),
    "tanh": ("tanh", ()),
    "gelu": ("gelu", (_p("approximate", "approximate", "none"),)),
    "silu": ("silu", _INPLACE),
    "leakyrelu": ("leakyrelu", (_p("negative_slope", "float", 0.01), *_INPLACE)),
    "dropout": ("dropout", (_p("p", "prob", 0.5), *_INPLACE)),
    "flatten": ("flatten", (_p("start_dim", "int", 1), _p("end_dim", "int", -1))),
    "linear": ("linear", (_p("out_features", "pos"), _p("bias", "bool", True))),
    "identity": ("identity", ()),
    "relu6": ("relu6", _INPLACE),
    "hardswish": ("hardswish", _INPLACE),
    "hardsigmoid": ("hardsigmoid", _INPLACE),
    "mish": ("mish", _INPLACE),
    "elu": ("elu", _ELU),
    "prelu": ("prelu", _PRELU),
    "softmax": ("softmax", _SOFTMAX),
    "groupnorm": ("groupnorm", _GROUPNORM),
    "layernorm2d": ("layernorm2d", _LAYERNORM[1:]),
    "layernorm": ("layernorm", _LAYERNORM),
    "instancenorm": ("instancenorm", _INSTANCENORM),
    "dropout2d": ("dropout2d", (_p("p", "prob", 0.5), *_INPLACE)),
    "zeropad": ("zeropad", (_p("padding", "pad4"),)),
    "upsample": ("upsample", _UPSAMPLE),
    "shuffle": ("shuffle", (_p("groups", "pos"),)),
}
_TORCH_EXTRA = (_p("device", "none", None), _p("dtype", "none", None))

# torch.nn's class names, as print(model) writes them: (short name, stated input size).
_TORCH: dict[str, tuple[str, str | None, tuple[_Param, ...]]] = {
    "Conv2d": ("conv", "in_channels", (*_CONV, *_TORCH_EXTRA)),
    "ConvTranspose2d": (
        "convT",
        "in_channels",
        (*_CONVT, _p("padding_mode", "zerosonly", "zeros"), *_TORCH_EXTRA),
    ),
    "MaxPool2d": (
        "maxpool",
        None,
        (*_MAXPOOL[:4], _p("return_indices", "false", False), _MAXPOOL[4]),
    ),
    "AvgPool2d": ("avgpool", None, _AVGPOOL),
    "AdaptiveAvgPool2d": ("adaptiveavgpool", None, (_p("output_size", "size"),)),
    "AdaptiveMaxPool2d": (
        "adaptivemaxpool",
        None,
        (_p("output_size", "size"), _p("return_indices", "false", False)),
    ),
    "BatchNorm2d": ("bn", "num_features", (*_BN[:4], *_TORCH_EXTRA, _BN[4])),
    "BatchNorm1d": ("bn", "num_features", (*_BN[:4], *_TORCH_EXTRA, _BN[4])),
    "ReLU": ("relu", None, _INPLACE),
    "Sigmoid": ("sigmoid", None, ()),
    "Tanh": ("tanh", None, ()),
    "GELU": ("gelu", None, (_p("approximate", "approximate", "none"),)),
    "SiLU": ("silu", None, _INPLACE),
    "LeakyReLU": ("leakyrelu", None, (_p("negative_slope", "float", 0.01), *_INPLACE)),
    "Dropout": ("dropout", None, (_p("p", "prob", 0.5), *_INPLACE)),
    "Flatten": ("flatten", None, (_p("start_dim", "int", 1), _p("end_dim", "int", -1))),
    "Linear": (
        "linear",
        "in_features",
        (_p("out_features", "pos"), _p("bias", "bool", True), *_TORCH_EXTRA),
    ),
    "Identity": ("identity", None, ()),
    "ReLU6": ("relu6", None, _INPLACE),
    "Hardswish": ("hardswish", None, _INPLACE),
    "Hardsigmoid": ("hardsigmoid", None, _INPLACE),
    "Mish": ("mish", None, _INPLACE),
    "ELU": ("elu", None, _ELU),
    "PReLU": ("prelu", None, (*_PRELU, *_TORCH_EXTRA)),
    "Softmax": ("softmax", None, _SOFTMAX),
    "GroupNorm": (
        "groupnorm",
        None,
        (_GROUPNORM[0], _p("num_channels", "pos"), *_GROUPNORM[1:], *_TORCH_EXTRA),
    ),
    # torchvision's (ConvNeXt): a LayerNorm over the channels at each position.
    "LayerNorm2d": ("layernorm2d", "normalized_shape", (*_LAYERNORM[1:], *_TORCH_EXTRA)),
    "LayerNorm": ("layernorm", None, (*_LAYERNORM, *_TORCH_EXTRA)),
    "InstanceNorm2d": ("instancenorm", "num_features", (*_INSTANCENORM, *_TORCH_EXTRA)),
    "Dropout2d": ("dropout2d", None, (_p("p", "prob", 0.5), *_INPLACE)),
    "ZeroPad2d": ("zeropad", None, (_p("padding", "pad4"),)),
    "Upsample": ("upsample", None, (*_UPSAMPLE, _p("recompute_scale_factor", "none", None))),
    "UpsamplingNearest2d": ("upsample", None, _UPSAMPLE),
    "ChannelShuffle": ("shuffle", None, (_p("groups", "pos"),)),
}
# Lazy modules state no input size: print(model) writes 0 for it until their first call.
_LAZY = {
    "LazyConv2d": "Conv2d",
    "LazyConvTranspose2d": "ConvTranspose2d",
    "LazyLinear": "Linear",
    "LazyBatchNorm2d": "BatchNorm2d",
    "LazyBatchNorm1d": "BatchNorm1d",
}
_SHORT_KEYS = {"k": "kernel_size", "s": "stride", "p": "padding", "d": "dilation", "g": "groups"}

# Joins: branches on the same input, joined along channels or element-wise.
JOINS = ("concat", "add", "mul", "chunk")
BLOCKS = ("residual", *JOINS, "se", "repeat")
# se's act= and gate=: the activations it may name.
SE_ACTIVATIONS = (
    "relu",
    "relu6",
    "silu",
    "hardswish",
    "hardsigmoid",
    "sigmoid",
    "tanh",
    "gelu",
    "mish",
)
# Copies a repeat(n, ...) may make: more are not a network anyone writes.
MAX_REPEAT = 1000
# Blocks inside blocks: a UNet is five deep; the walkers recurse once a level.
MAX_NESTING = 50
# Layers a repeat may stand for, nested repeats multiplied: far past any real network.
MAX_LAYERS = 100_000

LAYER_NAMES = (*_SHORT, *BLOCKS)


def parse_spec(
    text: str, *, source: str = N_("spec"), bias: bool = True, in_order: bool = False
) -> tuple[LayerSpec, ...]:
    """The layers of a network spec, in order.

    ``source`` names the text in error messages (``spec``, or a file's name). ``bias``:
    whether a convolution or linear layer that does not say ``bias=`` has one (torch.nn's
    default, True).
    ``in_order``: a custom module's children in pasted ``print(model)`` text are read
    as a chain in printed order (each layer's ``container`` names the module), where
    otherwise the module is refused because its ``forward`` is not printed.

    Examples
    --------
    >>> layers = parse_spec("conv(6, k=5, p=2) > sigmoid > avgpool(2)")
    >>> [(layer.kind, layer.args.get("padding")) for layer in layers]
    [('conv', 2), ('sigmoid', None), ('avgpool', 0)]
    >>> parse_spec("conv(6, k=5) > __import__('os')")
    Traceback (most recent call last):
    ...
    convcli.errors.OptionError: spec column 16: unknown layer '__import__' ...
    """
    if len(text) > MAX_SPEC_CHARS:
        raise OptionError(
            _("{source}: longer than {MAX_SPEC_CHARS:,} characters").format(
                source=_(source), MAX_SPEC_CHARS=MAX_SPEC_CHARS
            )
        )
    text = _readable(text, source)
    text = _SQUEEZE_EXCITATION.sub(_squeeze_excitation, text)
    text, ranges = _compressed(text)
    reader = _Reader(text, source, bias, in_order=in_order, ranges=ranges)
    line = reader.normalise()
    if not line.strip():
        raise OptionError(
            _("{source}: no layers (write them joined by '>')").format(source=_(source))
        )
    try:
        tree = ast.parse(line.strip(), mode="eval")
    except SyntaxError as err:
        offset = max((err.offset or 1) - 1, 0) + reader.lead
        if line.rstrip().endswith(">"):
            offset = line.rstrip().rindex(">")
        raise OptionError(
            _("{reader_where_offset}: {syntax_message_err_line}").format(
                reader_where_offset=reader.where(offset),
                syntax_message_err_line=_syntax_message(err, line),
            )
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise OptionError(
            _("{source}: nested too deeply to read").format(source=_(source))
        ) from None
    return reader.chain(tree.body)


def _compressed(text: str) -> tuple[str, dict[int, str]]:
    """print(model)'s compressed lines ``(0-2): 3 x Conv2d(...)`` as ``repeat(3, Conv2d(...))``,
    and the names each stood for (``0-2``) by where its line starts in the new text."""
    parts: list[str] = []
    ranges: dict[int, str] = {}
    done = at = 0
    for match in _REPEATED.finditer(text):
        parts.append(text[done : match.start()])
        at += match.start() - done
        ranges[at] = match[2]
        line = f"{match[1]}repeat({match[3]}, {match[4]})"
        parts.append(line)
        at += len(line)
        done = match.end()
    parts.append(text[done:])
    return "".join(parts), ranges


def _syntax_message(err: SyntaxError, flat: str) -> str:
    # Python's own words (English, and sometimes advice about Python) are not shown: the
    # column says where, this says what a spec looks like.
    if flat.rstrip().endswith(">"):
        return _("a '>' with no layer after it")
    return _("not a layer spec here; write layers like conv(16, k=3) joined by '>'")


# Python refuses integer literals of more digits than this (sys.get_int_max_str_digits);
# no layer argument comes near it, so such a run of digits is refused before parsing.
_MAX_LITERAL_DIGITS = 4000
_LONG_INTEGER = re.compile(rf"(?<![\w.])\d[\d_]{{{_MAX_LITERAL_DIGITS - 1},}}(?![\w.])", re.ASCII)


def _readable(text: str, source: str) -> str:
    """``text`` ready for ``ast``: bytes a C locale left undecoded read as UTF-8, and the
    characters and numbers Python cannot read refused with where they are."""
    if any("\udc80" <= char <= "\udcff" for char in text):
        # Command-line bytes Python could not decode in the locale's encoding (LC_ALL=C)
        # come as lone surrogates; they are what the terminal sent, most often UTF-8.
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeError:
            column = next(i for i, char in enumerate(text) if "\udc80" <= char <= "\udcff")
            raise OptionError(
                _("{where}: not UTF-8 text (byte 0x{byte:02x})").format(
                    where=_Reader(text, source).where(column), byte=ord(text[column]) - 0xDC00
                )
            ) from None
    bad = next(
        (i for i, char in enumerate(text) if char == "\0" or "\ud800" <= char <= "\udfff"), None
    )
    if bad is not None:
        raise OptionError(
            _("{where}: a character that is not text ({char}) cannot be part of a spec").format(
                where=_Reader(text, source).where(bad), char=repr(text[bad])[1:-1]
            )
        )
    long = _LONG_INTEGER.search(text)
    if long is not None:
        raise OptionError(
            _(
                "{where}: an integer of {digits} digits; layer arguments are integers up to 2**62"
            ).format(
                where=_Reader(text, source).where(long.start()),
                digits=f"{len(long.group().replace('_', '')):,}",
            )
        )
    return text


# A value or name from the spec is echoed in a message up to this many characters.
ECHOED_CHARS = 60


def echo_text(text: str) -> str:
    """``text`` as a message shows it: whole when short, else cut, its length said.

    >>> echo_text("conv(6)"), echo_text("a" * 100)
    ('conv(6)', "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'... (100 characters)")
    """
    return text if len(text) <= ECHOED_CHARS else shorten(text)


def _squeeze_excitation(match: re.Match[str]) -> str:
    """A printed SqueezeExcitation as ``se(squeeze, act=, gate=)`` on its first line (its
    other lines left empty, so later lines keep their numbers); as printed, and so refused
    as a module convcli cannot read, when its channels or activations are not torchvision's."""
    act, gate = (_TORCH.get(match[name], ("",))[0] for name in ("act", "gate"))
    if (
        match["c1"] != match["c2"]
        or match["s1"] != match["s2"]
        or act not in SE_ACTIVATIONS
        or gate not in SE_ACTIVATIONS
    ):
        return match[0]
    spec = f"se({match['s1']}, act='{act}', gate='{gate}')"
    return match["head"] + spec + "\n" * match[0].count("\n")


# nn.Sequential and torchvision's subclasses of it that keep Sequential's forward (not
# ASPPPooling, whose forward upsamples back).
SEQUENTIALS = (
    "Sequential",
    "Conv2dNormActivation",
    "ConvNormActivation",
    "FCNHead",
    "MLP",
    "DeepLabHead",
    "ASPPConv",
    "_Transition",
    "AnyStage",
    "BottleneckTransform",
    "SimpleStemIN",
)
_CONTAINER = re.compile(r"^\s*(?:\([\w.]+\):\s*)?(\w+)\(\s*$")
# print(model)'s compressed form of repeated modules: "(0-2): 3 x Conv2d(...)".
_REPEATED = re.compile(r"^([ \t]*)\((\d+-\d+)\):[ \t]*(\d+) x ([A-Za-z_]\w*\(.*\))[ \t]*$", re.M)
_REPEATED_BLOCK = re.compile(r"^\s*\(\d+-\d+\):\s*\d+ x ([A-Za-z_]\w*)\(\s*$")
# torchvision's SqueezeExcitation as print(model) shows it: its forward is known (pool,
# fc1, activation, fc2, scale_activation, times the input), so it is read as se(...).
_SQUEEZE_EXCITATION = re.compile(
    r"^(?P<head>[ \t]*(?:\([\w.]+\):[ \t]*)?)SqueezeExcitation\([ \t]*\r?\n"
    r"[ \t]*\(avgpool\):[ \t]*AdaptiveAvgPool2d\(output_size=(?:1|\(1, 1\))\)[ \t]*\r?\n"
    r"[ \t]*\(fc1\):[ \t]*Conv2d\((?P<c1>\d+), (?P<s1>\d+), kernel_size=\(1, 1\), "
    r"stride=\(1, 1\)\)[ \t]*\r?\n"
    r"[ \t]*\(fc2\):[ \t]*Conv2d\((?P<s2>\d+), (?P<c2>\d+), kernel_size=\(1, 1\), "
    r"stride=\(1, 1\)\)[ \t]*\r?\n"
    r"[ \t]*\(activation\):[ \t]*(?P<act>\w+)\((?:inplace=(?:True|False))?\)[ \t]*\r?\n"
    r"[ \t]*\(scale_activation\):[ \t]*(?P<gate>\w+)\((?:inplace=(?:True|False))?\)"
    r"[ \t]*\r?\n[ \t]*\)[ \t]*$",
    re.M,
)
_MODULE_INDEX = re.compile(r"^(\s*)(\([\w.]+\):\s*)")
_INDEX_NAME = re.compile(r"^\s*\(([\w.]+)\):")


def _index_name(body: str) -> str | None:
    """The name print(model) gives the module on a line (``conv1`` of ``(conv1): ...``)."""
    index = _INDEX_NAME.match(body)
    return None if index is None else index.group(1)


# torchvision's blocks that add their input to their output when the depthwise stride is 1
# and the channels out equal the channels in (MobileNetV2 and V3's InvertedResidual,
# EfficientNet's MBConv and FusedMBConv), by their printed children.
RESIDUAL_BLOCKS = {
    "InvertedResidual": ((("conv", "Sequential"),), (("block", "Sequential"),)),
    "MBConv": ((("block", "Sequential"), ("stochastic_depth", "StochasticDepth")),),
    "FusedMBConv": ((("block", "Sequential"), ("stochastic_depth", "StochasticDepth")),),
}
_CHILD = re.compile(r"^(\s*)\((\w+)\):\s*(\w+)\(")
_CONV_LINE = re.compile(
    r"\bConv2d\((\d+), (\d+), kernel_size=\(\d+, \d+\), stride=\((\d+), (\d+)\)"
)


def _residual_block(
    lines: Sequence[str], start: int, kind: str
) -> tuple[bool, int, int | None] | None:
    """A torchvision block printed from line ``start``: whether its forward adds the input
    (every convolution of stride 1, the first one's input channels the last one's output),
    the line that closes it, and the line of its StochasticDepth; None when its children
    are not torchvision's ``kind``'s (then it is a custom module like any other)."""
    head = lines[start]
    indent = len(head) - len(head.lstrip())
    children: list[tuple[str, str]] = []
    child_indent = -1  # the children's, once the first is seen
    convs: list[tuple[int, ...]] = []
    skipped = None
    for number in range(start + 1, len(lines)):
        body = lines[number].rstrip("\r\n")
        here = len(body) - len(body.lstrip())
        if not body.strip():  # a blank line (a SqueezeExcitation's, read as se(...))
            continue
        if body.strip() == ")" and here == indent:
            if not convs or tuple(children) not in RESIDUAL_BLOCKS.get(kind, ()):
                return None
            strided = any(conv[2:] != (1, 1) for conv in convs)
            return (not strided and convs[0][0] == convs[-1][1]), number, skipped
        if here <= indent:
            return None
        child = _CHILD.match(body)
        if child is not None and child_indent in (-1, len(child[1])):
            child_indent = len(child[1])
            children.append((child[2], child[3]))
            if child[3] == "StochasticDepth":
                skipped = number
        conv = _CONV_LINE.search(body)
        if conv is not None:
            convs.append(tuple(int(value) for value in conv.groups()))
    return None


_INDEX_RANGE = re.compile(r"(\d+)-\d+")
_LAYER_CLASS = re.compile(r"(?:nn\.)?([A-Za-z_]\w*)")
# Module paths deeper than this are cut there (the rest of a path folds into its last).
MAX_MODULE_LEVELS = 64
_OPENER = re.compile(r"^\s*(?:\([\w.]+\):\s*)?([A-Za-z_]\w*)\(\s*$")


class _Reader:
    """Turns the text into one Python expression of the same length, then reads its tree."""

    def __init__(
        self,
        text: str,
        source: str,
        bias: bool = True,
        *,
        in_order: bool = False,
        ranges: Mapping[int, str] | None = None,
    ) -> None:
        self.text = text
        # The names of print(model)'s compressed lines ("0-2"), by where the line starts.
        self.ranges = ranges or {}
        self.source = source
        self.bias = bias
        self.in_order = in_order
        # The custom modules read in printed order: first and last offset, class name.
        self.containers: list[tuple[int, int, str]] = []
        self._open: list[tuple[int, str]] = []
        # The modules print(model) names around each layer, by the layer's first offset;
        # the open containers' scopes (None: a container printed without a name).
        self.modules: dict[int, tuple[Scope, ...]] = {}
        self._scopes: list[Scope | None] = []
        # torchvision's blocks whose forward adds the input (InvertedResidual, MBConv):
        # first and last offset and module path of each, and the pending ones by the
        # line that closes them.
        self.residuals: list[tuple[int, int, tuple[Scope, ...]]] = []
        self._closers: dict[int, tuple[int, tuple[Scope, ...]]] = {}
        # The lines of the blocks' StochasticDepth: whether the block adds (and calls it).
        self._stochastic: dict[int, bool] = {}
        self._nesting = 0
        self.lead = 0
        self.flat = text
        self._byte_chars: list[int] | None = None
        self._line_starts: list[int] | None = None
        self._one_line = "\n" not in text.rstrip("\n")

    def where(self, offset: int) -> str:
        """``spec column 5`` or ``arch.txt line 3, column 5`` (1-based) for a character offset."""
        offset = min(max(offset, 0), len(self.text))
        if self._line_starts is None:
            starts = [0] + [i + 1 for i, char in enumerate(self.text) if char == "\n"]
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, offset)
        column = offset - self._line_starts[line - 1] + 1
        source = _(self.source)  # "spec" is convcli's word; a file name stays as it is
        if self._one_line:
            return _("{source} column {column}").format(source=source, column=column)
        return _("{source} line {line}, column {column}").format(
            source=source, line=line, column=column
        )

    def normalise(self) -> str:
        """Comments and print(model)'s structure blanked, line breaks between layers as '>'."""
        chars = list(self.text)
        offset = 0
        containers = 0
        depth = 0
        lines = self.text.splitlines(keepends=True)
        for number, line in enumerate(lines):
            body = line.rstrip("\r\n")
            if number in self._stochastic:
                # A block's StochasticDepth: the identity in eval, called only where the
                # block adds (on its branch, before the add); otherwise not at all.
                chars[offset : offset + len(body)] = " " * len(body)
                index = _MODULE_INDEX.match(body)
                if self._stochastic[number] and index is not None:
                    layer = offset + len(index.group(1)) + len(index.group(2))
                    chars[layer : layer + len("identity")] = "identity"
                    leaf = self._scope(_index_name(body) or "", "StochasticDepth")
                    path = (*(scope for scope in self._scopes if scope), leaf)
                    self.modules[layer] = path[:MAX_MODULE_LEVELS]
                offset += len(line)
                continue
            opener = _OPENER.match(body)
            container = _CONTAINER.match(body) if depth == 0 else None
            block = None
            if container and container.group(1) in RESIDUAL_BLOCKS:
                block = _residual_block(lines, number, container.group(1))
            repeated = _REPEATED_BLOCK.match(body) if depth == 0 else None
            if container and container.group(1) == "ModuleList":
                raise OptionError(
                    _(
                        "{where}: a ModuleList says nothing about how its layers are joined "
                        "(its owner's forward decides): write them as a chain, or as "
                        "concat(A | B), add(A | B)"
                    ).format(where=self.where(offset + body.index("ModuleList")))
                )
            if repeated:
                raise OptionError(
                    _(
                        "{where}: '{module}(' repeated: a module with layers inside that "
                        "convcli cannot read; write its layers in repeat(n, ...)"
                    ).format(
                        where=self.where(offset + body.index(repeated.group(1))),
                        module=repeated.group(1),
                    )
                )
            custom = (
                container is not None
                and container.group(1) not in SEQUENTIALS
                and container.group(1) not in (*_SHORT, *_TORCH, *_LAZY, *BLOCKS)
            )
            if block is not None:
                # torchvision's forward is known: its children in order, plus the input
                # when it says so (stride 1, as many channels out as in).
                adds, closer, skipped = block
                self._open.append((offset, ""))
                named = container.group(1) if container else ""
                self._scopes.append(self._scope(_index_name(body), named))
                containers += 1
                chars[offset : offset + len(body)] = " " * len(body)
                if skipped is not None:
                    self._stochastic[skipped] = adds
                if adds:
                    path = tuple(scope for scope in self._scopes if scope)
                    self._closers[closer] = (offset, path[:MAX_MODULE_LEVELS])
            elif container and (container.group(1) in SEQUENTIALS or (custom and self.in_order)):
                self._open.append((offset, container.group(1) if custom else ""))
                self._scopes.append(self._scope(_index_name(body), container.group(1)))
                containers += 1
                chars[offset : offset + len(body)] = " " * len(body)
            elif depth == 0 and body.strip() == ")" and containers:
                containers -= 1
                start, name = self._open.pop()
                self._scopes.pop()
                if name:
                    self.containers.append((start, offset, name))
                if number in self._closers:
                    first, path = self._closers.pop(number)
                    self.residuals.append((first, offset, path))
                chars[offset : offset + len(body)] = " " * len(body)
            elif (
                depth == 0 and opener and opener.group(1) not in (*_SHORT, *_TORCH, *_LAZY, *BLOCKS)
            ):
                raise OptionError(
                    _(
                        "{where}: '{module}(' is a module with layers inside that convcli "
                        "cannot read (its forward is not printed); write its layers "
                        "(residual(...), concat(...) for branches), or read them in printed "
                        "order with {in_order}"
                    ),
                    in_order=Param("in_order"),
                    where=self.where(offset + body.index(opener.group(1))),
                    module=echo_text(opener.group(1)),
                )
            else:
                index = _MODULE_INDEX.match(body)
                if depth == 0 and index:
                    start = offset + len(index.group(1))
                    chars[start : start + len(index.group(2))] = " " * len(index.group(2))
                named = _index_name(body) if index else self.ranges.get(offset)
                if depth == 0 and named is not None:
                    layer = offset + len(body) - len(body.lstrip())
                    layer += len(index.group(2)) if index else 0
                    kind = _LAYER_CLASS.match(body, layer - offset)
                    leaf = self._scope(named, kind.group(1) if kind else "")
                    path = (*(scope for scope in self._scopes if scope), leaf)
                    self.modules[layer] = path[:MAX_MODULE_LEVELS]
                depth = self._scan(chars, offset, offset + len(body), depth)
            offset += len(line)
        if depth > 0:
            raise OptionError(
                _("{self_where_self__last_open}: '(' is never closed").format(
                    self_where_self__last_open=self.where(self._last_open)
                )
            )
        self._join_lines(chars)
        self.flat = "".join(chars)
        self.lead = len(self.flat) - len(self.flat.lstrip())
        return self.flat

    @overload
    def _scope(self, own: str, kind: str) -> Scope: ...
    @overload
    def _scope(self, own: None, kind: str) -> None: ...
    def _scope(self, own: str | None, kind: str) -> Scope | None:
        """The module a line of print(model) opens or holds (``own``: its name on the
        line, None: it has none), named as named_modules() names it: its parents' names
        and its own, joined by '.'."""
        if own is None:
            return None
        parent = next((scope for scope in reversed(self._scopes) if scope), None)
        name = own if parent is None else f"{parent.name}.{own}"
        kind = "SqueezeExcitation" if kind == "se" else kind  # read as se(...) above
        return Scope(_printable(name), _printable(kind))

    _opens: list[int]
    _last_open = 0

    def _scan(self, chars: list[str], start: int, end: int, depth: int) -> int:
        """Blank comments, track parentheses over ``chars[start:end]``; the new depth."""
        if depth == 0:
            self._opens = []
        quote = ""
        i = start
        while i < end:
            char = chars[i]
            if quote:
                if char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "#":
                chars[i:end] = " " * (end - i)
                break
            elif char in "([":
                depth += 1
                self._opens.append(i)
            elif char in ")]":
                depth -= 1
                if depth < 0:
                    raise OptionError(
                        _("{self_where_i}: '{char}' without a matching opening").format(
                            self_where_i=self.where(i), char=char
                        )
                    )
                self._opens.pop()
            i += 1
        if quote:
            raise OptionError(
                _("{self_where_end_1}: a quoted string is never closed").format(
                    self_where_end_1=self.where(end - 1)
                )
            )
        if self._opens:
            self._last_open = self._opens[-1]
        return depth

    @staticmethod
    def _join_lines(chars: list[str]) -> None:
        """Line breaks outside parentheses become '>' between two layers, else spaces."""
        # The first non-blank character after each position, in one backward pass; the last
        # one before it is tracked going forward, joins included.
        after = [""] * len(chars)
        following = ""
        for i in range(len(chars) - 1, -1, -1):
            after[i] = following
            if not chars[i].isspace():
                following = chars[i]
        depth = 0
        last = ""
        for i, char in enumerate(chars):
            if char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            elif char in "\r\n":
                joins = depth == 0 and last not in ("", ">") and after[i] not in ("", ">")
                chars[i] = ">" if joins else " "
            if not chars[i].isspace():
                last = chars[i]

    # -- the tree ----------------------------------------------------------------------------

    def at(self, node: ast.AST) -> str:
        return self.where(self._offset(node))

    def _offset(self, node: ast.AST, attribute: str = "col_offset") -> int:
        col = getattr(node, attribute, None) or 0
        return self._char_of_byte(col) + self.lead

    def _char_of_byte(self, col: int) -> int:
        """ast's columns count UTF-8 bytes of the parsed line; positions count characters."""
        if self._byte_chars is None:
            parsed = self.flat.strip()
            if parsed.isascii():
                self._byte_chars = []
            else:
                self._byte_chars = [
                    index for index, char in enumerate(parsed) for _ in char.encode()
                ]
                self._byte_chars.append(len(parsed))
        if not self._byte_chars:
            return col
        return self._byte_chars[min(col, len(self._byte_chars) - 1)]

    def _segment(self, node: ast.AST) -> str:
        start, end = self._offset(node), self._offset(node, "end_col_offset")
        return _printable(" ".join(self.flat[start:end].split()))

    def chain(self, node: ast.expr) -> tuple[LayerSpec, ...]:
        branches = self._split(node)
        if len(branches) > 1:
            raise OptionError(
                _(
                    "{where}: '|' separates the branches of a join: write "
                    "concat(A | B), add(A | B) or mul(A | B)"
                ).format(where=self.at(branches[1][0]))
            )
        return self._layers(branches[0])

    def _layers(self, items: Sequence[ast.expr]) -> tuple[LayerSpec, ...]:
        layers: list[LayerSpec] = []
        at = 0
        while at < len(items):
            item = items[at]
            block = self._residual_at(self._offset(item)) if self.residuals else None
            if block is not None:
                first, last, path = block
                end = at
                while end < len(items) and first <= self._offset(items[end]) <= last:
                    end += 1
                main = self._layers(items[at:end])
                layers.append(
                    LayerSpec(
                        kind="residual",
                        args={},
                        text="residual(" + " > ".join(layer.text for layer in main) + ")",
                        where=self.at(item),
                        main=main,
                        module=path,
                    )
                )
                at = end
                continue
            if isinstance(item, ast.Call) and self._name(item.func) == "repeat":
                layers.extend(self._repeat(item))
            else:
                layers.append(self.layer(item))
            at += 1
        return tuple(layers)

    def _residual_at(self, offset: int) -> tuple[int, int, tuple[Scope, ...]] | None:
        """The outermost block read as a residual that starts being read at ``offset``
        (it is taken from the list: its layers inside are read as a chain)."""
        for index, block in enumerate(self.residuals):
            if block[0] <= offset <= block[1]:
                del self.residuals[index]
                return block
        return None

    def _split(self, node: ast.expr) -> list[list[ast.expr]]:
        """The branches of ``A > B | C``: '|' binds tighter than '>' in Python, so the
        tree is flattened back into the written order, then cut at each '|'."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._split(node.left) + self._split(node.right)
        if not isinstance(node, ast.Compare):
            return [[node]]
        for op, right in zip(node.ops, node.comparators, strict=True):
            if not isinstance(op, ast.Gt):
                raise OptionError(
                    _("{self_at_right}: layers are joined by '>' only").format(
                        self_at_right=self.at(right)
                    )
                )
        branches = self._split(node.left)
        for operand in node.comparators:
            parts = self._split(operand)
            branches[-1].extend(parts[0])
            branches.extend(parts[1:])
        return branches

    def layer(self, node: ast.expr) -> LayerSpec:
        if isinstance(node, ast.Name | ast.Attribute):
            name = self._name(node)
            if name in BLOCKS:
                raise OptionError(
                    _("{where}: {name} needs its branches: {name}(...)").format(
                        where=self.at(node), name=name
                    )
                )
            return self._build(node, name, [], [])
        if isinstance(node, ast.Call):
            name = self._name(node.func)
            if name == "residual" or name in JOINS:
                self._nesting += 1
                if self._nesting > MAX_NESTING:
                    raise OptionError(
                        _("{where}: blocks nested more than {maximum} deep").format(
                            where=self.at(node), maximum=MAX_NESTING
                        )
                    )
                try:
                    return self._residual(node) if name == "residual" else self._join(node, name)
                finally:
                    self._nesting -= 1
            if name == "se":
                return self._se(node)
            if name == "repeat":
                raise OptionError(
                    _("{where}: repeat(n, BLOCK) stands in a chain, not in a join's list").format(
                        where=self.at(node)
                    )
                )
            return self._build(node, name, node.args, node.keywords)
        raise OptionError(
            _(
                "{self_at_node}: not a layer: {segment} (a layer is a name like "
                "relu or a call like conv(16, k=3))"
            ).format(self_at_node=self.at(node), segment=_echo_quoted(self._segment(node)))
        )

    def _name(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            name = node.id
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "nn"
        ):
            name = node.attr
            if name not in _TORCH and name not in _LAZY:
                raise OptionError(
                    _("{self_at_node}: unknown layer 'nn.{name}'{known}").format(
                        self_at_node=self.at(node), name=echo_text(name), known=_known(name)
                    )
                )
        else:
            raise OptionError(
                _("{self_at_node}: unknown layer {name}{known}").format(
                    self_at_node=self.at(node),
                    name=_echo_quoted(self._segment(node)),
                    known=_known(self._segment(node)),
                )
            )
        if name not in _SHORT and name not in _TORCH and name not in _LAZY and name not in BLOCKS:
            raise OptionError(
                _("{self_at_node}: unknown layer {name}{known}").format(
                    self_at_node=self.at(node), name=_echo_quoted(name), known=_known(name)
                )
            )
        return name

    def _residual(self, node: ast.Call) -> LayerSpec:
        if len(node.args) != 1:
            raise OptionError(
                _(
                    "{self_at_node}: residual takes one block and an optional shortcut=BLOCK, "
                    "got {len_node_args} positional arguments"
                ).format(self_at_node=self.at(node), len_node_args=len(node.args))
            )
        shortcut: tuple[LayerSpec, ...] = ()
        for keyword in node.keywords:
            if keyword.arg != "shortcut":
                raise OptionError(
                    _(
                        "{self_at_keyword}: residual has no argument {keyword_arg_or} (only "
                        "shortcut=BLOCK)"
                    ).format(
                        self_at_keyword=self.at(keyword),
                        keyword_arg_or=_echo_quoted(keyword.arg or "**"),
                    )
                )
            shortcut = self.chain(keyword.value)
        return LayerSpec(
            kind="residual",
            args={},
            text=self._segment(node),
            where=self.at(node),
            main=self.chain(node.args[0]),
            shortcut=shortcut,
        )

    def _count(self, node: ast.expr, name: str, what: str, maximum: int = MAX_INT) -> int:
        value = _literal_or_none(node)
        if not _is_int(value, 1) or value > maximum:  # type: ignore[operator]
            raise OptionError(
                _("{where}: {name}: {what} must be an int from 1 to {maximum}, got {shown}").format(
                    where=self.at(node),
                    name=name,
                    what=what,
                    maximum=f"{maximum:,}",
                    shown=self._segment(node),
                )
            )
        return value  # type: ignore[return-value]

    def _repeat(self, node: ast.Call) -> tuple[LayerSpec, ...]:
        if len(node.args) != 2 or node.keywords:
            raise OptionError(
                _(
                    "{where}: repeat takes a count and a block: repeat(4, conv(32, k=3) > relu)"
                ).format(where=self.at(node))
            )
        count = self._count(node.args[0], "repeat", "n", MAX_REPEAT)
        block = self.chain(node.args[1])
        # Nested repeats multiply: the layers they stand for are counted, not built, first.
        if count * sum(_layer_count(layer) for layer in block) > MAX_LAYERS:
            raise OptionError(
                _("{where}: repeat makes more than {maximum} layers").format(
                    where=self.at(node), maximum=f"{MAX_LAYERS:,}"
                )
            )
        path = self.modules.get(self._offset(node))
        if path is not None and len(block) == 1:
            # print(model)'s "(0-2): 3 x Conv2d(...)": three modules, named 0, 1 and 2.
            parent, _dot, span = path[-1].name.rpartition(".")
            first = _INDEX_RANGE.fullmatch(span)
            if first is not None:
                kind = block[0].torch_name or block[0].kind
                prefix = f"{parent}." if parent else ""
                return tuple(
                    replace(
                        block[0],
                        module=(*path[:-1], Scope(f"{prefix}{int(first[1]) + i}", kind)),
                    )
                    for i in range(count)
                )
        return block * count

    def _join(self, node: ast.Call, name: str) -> LayerSpec:
        args: dict[str, Value] = {}
        positional = list(node.args)
        if name == "chunk":
            if len(positional) != 2 or node.keywords:
                raise OptionError(
                    _(
                        "{where}: chunk takes a count and one branch per part: "
                        "chunk(2, identity | conv(58, k=1))"
                    ).format(where=self.at(node))
                )
            args["chunks"] = self._count(positional.pop(0), name, "chunks")
        elif len(positional) != 1 or node.keywords:
            raise OptionError(
                _("{where}: {name} takes its branches joined by '|': {name}(A | B)").format(
                    where=self.at(node), name=name
                )
            )
        branches = tuple(self._layers(items) for items in self._split(positional[0]))
        branches = tuple(() if _is_identity(branch) else branch for branch in branches)
        if name == "chunk" and len(branches) != args["chunks"]:
            raise OptionError(
                _("{where}: chunk({chunks}, ...) needs {chunks} branches, got {count}").format(
                    where=self.at(node), chunks=args["chunks"], count=len(branches)
                )
            )
        return LayerSpec(
            kind=name,
            args=args,
            text=self._segment(node),
            where=self.at(node),
            branches=branches,
        )

    def _se(self, node: ast.Call) -> LayerSpec:
        order = ("squeeze", "act", "gate")
        values: dict[str, Value] = {"act": "relu", "gate": "sigmoid"}
        given = list(zip(order, node.args, strict=False))
        if len(node.args) > len(order):
            raise OptionError(
                _("{where}: se takes squeeze, act= and gate=").format(where=self.at(node))
            )
        for keyword in node.keywords:
            if keyword.arg not in order:
                raise OptionError(
                    _("{where}: se has no argument {arg!r} (it takes squeeze, act, gate)").format(
                        where=self.at(keyword), arg=keyword.arg or "**"
                    )
                )
            given.append((keyword.arg, keyword.value))
        for key, value_node in given:
            if key == "squeeze":
                values[key] = self._count(value_node, "se", "squeeze")
                continue
            raw = _literal_or_none(value_node)
            if isinstance(value_node, ast.Name):
                raw = value_node.id
            if raw not in SE_ACTIVATIONS:
                raise OptionError(
                    _("{where}: se: {key} must be one of {names}, got {shown}").format(
                        where=self.at(value_node),
                        key=key,
                        names=", ".join(SE_ACTIVATIONS),
                        shown=self._segment(value_node),
                    )
                )
            values[key] = str(raw)
        if "squeeze" not in values:
            raise OptionError(
                _("{where}: se needs squeeze (the squeezed channels): se(16)").format(
                    where=self.at(node)
                )
            )
        return LayerSpec(
            kind="se",
            args=values,
            text=self._segment(node),
            where=self.at(node),
            module=self.modules.get(self._offset(node)),
        )

    def _build(
        self, node: ast.expr, name: str, args: Sequence[ast.expr], keywords: list[ast.keyword]
    ) -> LayerSpec:
        if name == "residual":
            raise OptionError(
                _("{self_at_node}: residual needs a block: residual(conv(...) > ...)").format(
                    self_at_node=self.at(node)
                )
            )
        if name in _LAZY:
            kind, lazy_stated, params = _TORCH[_LAZY[name]]
            stated_name, torch_name = None, _LAZY[name]
            args, keywords = self._unstated(args, keywords, lazy_stated)
        elif name in _TORCH and name not in _SHORT:
            kind, stated_name, params = _TORCH[name]
            torch_name = name
        else:
            kind, params = _SHORT[name]
            stated_name, torch_name = None, ""
        stated_kind = "shape" if stated_name == "normalized_shape" else "pos"
        order = ([_Param(stated_name, stated_kind)] if stated_name else []) + list(params)
        values: dict[str, Value] = {}
        for index, arg in enumerate(args):
            if isinstance(arg, ast.Starred):
                raise OptionError(
                    _("{self_at_arg}: '*' arguments are not layer arguments").format(
                        self_at_arg=self.at(arg)
                    )
                )
            if index >= len(order):
                raise OptionError(
                    _(
                        "{self_at_arg}: {name} takes at most {len_order} positional arguments, "
                        "got {len_args}"
                    ).format(
                        self_at_arg=self.at(arg),
                        name=name,
                        len_order=len(order),
                        len_args=len(args),
                    )
                )
            values[order[index].name] = self._value(arg, order[index], name)
        by_name = {param.name: param for param in order}
        for keyword in keywords:
            if keyword.arg is None:
                raise OptionError(
                    _("{self_at_keyword}: '**' arguments are not layer arguments").format(
                        self_at_keyword=self.at(keyword)
                    )
                )
            key = keyword.arg
            if not torch_name and key not in by_name:  # dropout's p is its own, not padding
                key = _SHORT_KEYS.get(key, key)
            if key not in by_name:
                if by_name:
                    message = _(
                        "{self_at_keyword}: {name} has no argument {keyword_arg} (it takes "
                        "{accepted})"
                    )
                else:
                    message = _(
                        "{self_at_keyword}: {name} has no argument {keyword_arg} (it takes none)"
                    )
                raise OptionError(
                    message.format(
                        self_at_keyword=self.at(keyword),
                        name=name,
                        keyword_arg=_echo_quoted(keyword.arg),
                        accepted=", ".join(by_name),
                    )
                )
            if key in values:
                raise OptionError(
                    _("{self_at_keyword}: {name}: {key} is given twice").format(
                        self_at_keyword=self.at(keyword), name=name, key=key
                    )
                )
            values[key] = self._value(keyword.value, by_name[key], name)
        for param in order:
            if param.name not in values:
                if param.default is ...:
                    raise OptionError(
                        _("{self_at_node}: {name} needs {param_name}").format(
                            self_at_node=self.at(node), name=name, param_name=param.name
                        )
                    )
                values[param.name] = param.default  # type: ignore[assignment]
                if param.name == "bias" and kind in ("conv", "convT", "linear"):
                    values["bias"] = self.bias
        stated: dict[str, int] = {}
        if stated_name == "normalized_shape":
            shape = values.pop(stated_name)
            stated["num_channels"] = shape if isinstance(shape, int) else shape[0]  # type: ignore[assignment,index]
        elif stated_name:
            stated[stated_name] = int(values.pop(stated_name))  # type: ignore[arg-type]
        if "num_channels" in values:
            stated["num_channels"] = int(values.pop("num_channels"))  # type: ignore[arg-type]
        for extra in ("device", "dtype", "inplace", "return_indices", "recompute_scale_factor"):
            values.pop(extra, None)
        if torch_name in ("BatchNorm1d", "BatchNorm2d"):
            stated["ndim"] = 2 if torch_name == "BatchNorm1d" else 4
        written = {keyword.arg for keyword in keywords}
        assumed: tuple[str, ...] = ()
        if torch_name == "AvgPool2d":
            # print(model) leaves these two out of AvgPool2d's line whatever they are.
            hidden = ("ceil_mode", "count_include_pad")
            assumed = tuple(key for key in hidden if key not in written and len(args) < 5)
        offset = self._offset(node)
        inside = [entry for entry in self.containers if entry[0] <= offset <= entry[1]]
        return LayerSpec(
            kind=kind,
            args=values,
            text=self._segment(node),
            where=self.at(node),
            stated=stated,
            torch_name=torch_name,
            assumed=assumed,
            container=max(inside)[2] if inside else "",
            module=self.modules.get(offset),
        )

    @staticmethod
    def _unstated(
        args: Sequence[ast.expr], keywords: list[ast.keyword], stated: str | None
    ) -> tuple[Sequence[ast.expr], list[ast.keyword]]:
        """A lazy module's arguments without the 0 that print(model) writes for its input size."""

        def is_zero(node: ast.expr) -> bool:
            return isinstance(node, ast.Constant) and node.value == 0 and node.value is not False

        if args and is_zero(args[0]) and (len(args) > 1 or stated == "num_features"):
            args = args[1:]
        keywords = [kw for kw in keywords if not (kw.arg == stated and is_zero(kw.value))]
        return args, keywords

    def _value(self, node: ast.expr, param: _Param, layer: str) -> Value:
        where = self.at(node)
        shown = echo_text(self._segment(node))
        wanted = _(_WANTED[param.kind]).format(modes=", ".join(PADDING_MODES))
        try:
            # print(model) writes padding=same, padding_mode=reflect without quotes.
            unquoted = param.kind in ("padding", "mode", "upmode", "approximate")
            raw = node.id if unquoted and isinstance(node, ast.Name) else _literal(node)
        except ValueError:
            raise OptionError(
                _(
                    "{where}: {layer}: {param_name} must be {wanted}, got {shown} (only literal "
                    "values are read)"
                ).format(
                    where=where, layer=layer, param_name=param.name, wanted=wanted, shown=shown
                )
            ) from None
        value = _check(raw, param.kind)
        if value is _BAD:
            raise OptionError(
                _("{where}: {layer}: {param_name} must be {wanted}, got {shown}").format(
                    where=where, layer=layer, param_name=param.name, wanted=wanted, shown=shown
                )
            )
        return value  # type: ignore[return-value]


def _literal_or_none(node: ast.expr) -> object:
    try:
        return _literal(node)
    except ValueError:
        return None


def count_layers(layers: tuple[LayerSpec, ...]) -> int:
    """Every layer a parsed spec stands for: repeats expanded, blocks' inner layers too.

    >>> count_layers(parse_spec("repeat(3, conv(8, k=1) > relu) > add(identity | bn)"))
    8
    """
    return sum(_layer_count(layer) for layer in layers)


def _layer_count(layer: LayerSpec) -> int:
    """The layer and every layer inside it (a residual's paths, a join's branches)."""
    inner = (*layer.main, *layer.shortcut, *(item for branch in layer.branches for item in branch))
    return 1 + sum(_layer_count(item) for item in inner)


def _is_identity(chain: tuple[LayerSpec, ...]) -> bool:
    return len(chain) == 1 and chain[0].kind == "identity"


def _printable(text: str) -> str:
    r"""``text`` with control characters escaped: a spec never writes escape codes to a terminal.

    >>> print(_printable("zeros\x1b[31m"))
    zeros\x1b[31m
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _known(name: str) -> str:
    """What to type instead of an unknown layer ``name``: the close names, else where the
    list is (forty names would make the one-line error too long to read)."""
    import difflib

    matches = difflib.get_close_matches(name, [*LAYER_NAMES, *_TORCH], n=3, cutoff=0.6)
    if matches:
        return " " + _("(did you mean {names}? net's help lists every layer)").format(
            names=_(" or ").join(
                [_(", ").join(matches[:-1]), matches[-1]] if matches[1:] else matches
            )
        )
    return " " + _("(net's help lists every layer; torch.nn names such as Conv2d are read too)")


def _echo_quoted(text: str) -> str:
    """A name from the spec, quoted as ``repr`` quotes it, cut when long (``echo_text``)."""
    return repr(text) if len(text) <= ECHOED_CHARS else shorten(text)


_BAD = object()
_FLOAT_MAX = int(sys.float_info.max)
_WANTED = {
    "int": N_("an int"),
    "pos": N_("an int >= 1"),
    "optpos": N_("None or an int >= 1"),
    "pair": N_("an int >= 1 or a pair (h, w)"),
    "pair0": N_("an int >= 0 or a pair (h, w)"),
    "optpair": N_("None, an int >= 1 or a pair (h, w)"),
    "padding": N_("an int >= 0, a pair (h, w), 'same' or 'valid'"),
    "bool": N_("True or False"),
    "false": "False",
    "float": N_("a number (a float)"),
    "optfloat": N_("None or a number (a float)"),
    "prob": N_("a probability between 0 and 1"),
    "mode": N_("one of {modes}"),
    "zerosonly": "'zeros'",
    "approximate": N_("'none' or 'tanh'"),
    "size": N_("an int >= 1 or a pair (h, w) of ints or None"),
    "none": "None",
    "shape": "an int >= 1 or a tuple of them",
    "pad4": "an int >= 0 or a 4-tuple (left, right, top, bottom)",
    "scale": "None, a number > 0 or a pair of them",
    "upmode": "'nearest' or 'bilinear'",
    "optbool": "None, True or False",
}


def _literal(node: ast.expr) -> object:
    """A literal's value, read from the tree; anything that is not a literal raises."""
    if isinstance(node, ast.Constant) and isinstance(
        node.value, int | float | str | bool | type(None)
    ):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_literal(item) for item in node.elts)
    raise ValueError("not a literal")


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_INT


def _check(raw: object, kind: str) -> object:
    if kind in ("int",):
        return raw if _is_int(raw, -MAX_INT) else _BAD
    if kind == "pos":
        return raw if _is_int(raw, 1) else _BAD
    if kind == "optpos":
        return raw if raw is None or _is_int(raw, 1) else _BAD
    if kind in ("pair", "pair0", "optpair", "padding"):
        if kind == "optpair" and raw is None:
            return None
        if kind == "padding" and raw in ("same", "valid"):
            return raw
        minimum = 0 if kind in ("pair0", "padding") else 1
        if _is_int(raw, minimum):
            return raw
        if isinstance(raw, tuple) and len(raw) == 2 and all(_is_int(v, minimum) for v in raw):
            return raw if raw[0] != raw[1] else raw[0]
        return _BAD
    if kind == "size":
        if _is_int(raw, 1):
            return raw
        if (
            isinstance(raw, tuple)
            and len(raw) == 2
            and all(v is None or _is_int(v, 1) for v in raw)
        ):
            return raw
        return _BAD
    if kind == "bool":
        return raw if isinstance(raw, bool) else _BAD
    if kind == "false":
        return raw if raw is False else _BAD
    if kind in ("float", "optfloat", "prob"):
        if kind == "optfloat" and raw is None:
            return None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            if kind == "prob" and not 0 <= raw <= 1:
                return _BAD
            if isinstance(raw, int) and abs(raw) > _FLOAT_MAX:
                return _BAD  # torch.nn would take float() of it: OverflowError
            return raw
        return _BAD
    if kind == "mode":
        return raw if raw in PADDING_MODES else _BAD
    if kind == "zerosonly":
        return raw if raw == "zeros" else _BAD
    if kind == "approximate":
        return raw if raw in ("none", "tanh") else _BAD
    if kind == "none":
        return raw if raw is None else _BAD
    if kind == "shape":
        if _is_int(raw, 1):
            return raw
        ok = isinstance(raw, tuple) and raw and all(_is_int(v, 1) for v in raw)
        return raw if ok else _BAD
    if kind == "pad4":
        if _is_int(raw, 0):
            return raw
        ok = isinstance(raw, tuple) and len(raw) == 4 and all(_is_int(v, 0) for v in raw)
        return raw if ok else _BAD
    if kind == "scale":
        if raw is None or _positive_number(raw):
            return raw
        ok = isinstance(raw, tuple) and len(raw) == 2 and all(_positive_number(v) for v in raw)
        return raw if ok else _BAD
    if kind == "upmode":
        return raw if raw in ("nearest", "bilinear") else _BAD
    if kind == "optbool":
        return raw if raw is None or isinstance(raw, bool) else _BAD
    raise AssertionError(kind)


def _positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 < value <= MAX_INT
        and value == value
    )
