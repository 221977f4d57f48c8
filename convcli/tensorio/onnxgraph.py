"""Read an ONNX model's graph into the spec language (the optional ``onnx`` extra).

Only the graph and the shapes of its initializers are read: weights stored as external
data are never loaded. Shapes come from ``onnx.shape_inference`` on the graph with its input
fixed to the given shape (the shape subgraphs exporters write are evaluated as constants by
its data propagation). Each node becomes a ``Node`` of ``convcli.shapes.graph``; values
computed only from initializers and constants are constants, and an elementwise op with a
constant operand (a bias, a scale, a normalisation) keeps its input's shape. ``graph_spec``
writes the graph as a spec, which ``parse_spec`` reads like any other.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
import types
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convcli.errors import (
    BudgetError,
    ConvcliError,
    DependencyError,
    OptionError,
    Param,
    TensorFileError,
)
from convcli.i18n import _
from convcli.shapes.graph import Node, graph_spec
from convcli.shapes.modules import Origin, Scope

__all__ = ["OnnxGraph", "read_onnx"]

MAX_DIM = 1 << 31
_SMALL = 1024  # initializers up to this many elements go to shape inference (shape data)
_ACTIVATIONS = {
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "HardSigmoid": "hardsigmoid",
    "HardSwish": "hardswish",
    "Tanh": "tanh",
    "Gelu": "gelu",
    "Mish": "mish",
}
_PASS = {"Identity", "Dropout", "Cast"}
# The ops whose initializers (after the data input) are params as the walker counts them.
_WEIGHTED = {
    "BatchNormalization",
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "InstanceNormalization",
    "GroupNormalization",
    "LayerNormalization",
    "PRelu",
}
# Ops that say for themselves whether their output is stored transposed.
_UNFLIPPING = {"Gemm", "MatMul", "Transpose"}
# Ops that move values without computing any.
_MOVES = {"Reshape", "Gather", "Squeeze", "Unsqueeze", "Expand", "Slice", "Transpose"}
_CONSTANT_OPS = {"Constant", "ConstantOfShape", "Shape", "Size", "Range", "EyeLike"}
_ELEMENTWISE_UNKNOWN = {
    "Erf",
    "Sqrt",
    "Exp",
    "Log",
    "Neg",
    "Abs",
    "Reciprocal",
    "Pow",
    "Softplus",
    "Softsign",
    "Floor",
    "Ceil",
    "Round",
    "Sin",
    "Cos",
    "Not",
}


@dataclass(frozen=True)
class OnnxGraph:
    """A model file read as a spec.

    ``spec`` is the spec text, ``input_shape`` the graph input's shape, ``uncounted`` the
    operators kept in place without being counted (name, number of nodes), ``stopped`` the
    node and operator the reading stopped at (its shape unknown), or None; ``shared`` the
    weight elements that more than one node reads (each node's params count them);
    ``elementwise`` the elements of initializers an Add, Sub, Mul or Div reads (a layer
    scale, a normalisation), which no layer's params count; ``origins`` where each row
    of the spec comes from (its node and module path), in the order the spec is written.
    """

    spec: str
    input_shape: tuple[int, ...]
    uncounted: tuple[tuple[str, int], ...]
    stopped: tuple[str, str] | None
    nodes: int
    shared: int = 0
    elementwise: int = 0
    origins: tuple[Origin, ...] = ()


@dataclass(frozen=True)
class _Onnx:
    """The two parts of the onnx package the reader uses: its protobuf classes and its
    compiled shape inference."""

    ModelProto: Any
    infer: Any


def _onnx() -> _Onnx:
    """onnx's protobuf module and its compiled extension, without ``onnx/__init__``.

    The package's own ``__init__`` imports ml_dtypes and the whole Python API (about a
    second of start-up); the reader needs two modules of it. They are loaded under a bare
    package module that is taken out of ``sys.modules`` again, so a later ``import onnx``
    runs the package as usual and finds them.
    """
    if "onnx" in sys.modules and sys.modules["onnx"] is None:  # marked absent (as tests do)
        raise _missing()
    proto = getattr(sys.modules.get("onnx"), "ModelProto", None)
    if proto is not None:
        import onnx.onnx_cpp2py_export as compiled

        return _Onnx(proto, compiled.shape_inference.infer_shapes)
    try:
        spec = importlib.util.find_spec("onnx")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise _missing()
    bare = types.ModuleType("onnx")
    bare.__path__ = list(spec.submodule_search_locations)
    sys.modules["onnx"] = bare
    try:
        import onnx.onnx_cpp2py_export as compiled
        import onnx.onnx_ml_pb2 as protos
    except ImportError:
        raise _missing() from None
    finally:
        if sys.modules.get("onnx") is bare:
            del sys.modules["onnx"]
    return _Onnx(protos.ModelProto, compiled.shape_inference.infer_shapes)


def _missing() -> DependencyError:
    return DependencyError(
        _("reading .onnx files needs the onnx package: pip install 'convcli[onnx]'")
    )


def read_onnx(
    path: str, *, max_bytes: int, input_shape: tuple[int, ...] | None = None
) -> OnnxGraph:
    """The spec of the ONNX model in ``path`` (its file no larger than ``max_bytes``).

    ``input_shape`` replaces the graph input's shape (needed where it is symbolic).
    """
    onnx = _onnx()
    shown = path if path.isprintable() else repr(path)
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise TensorFileError(_("{path}: no such file").format(path=shown)) from None
    except OSError as err:
        raise TensorFileError(
            _("{path}: cannot read ({reason})").format(path=shown, reason=err.strerror)
        ) from None
    if os.path.isdir(path):
        raise TensorFileError(_("{path}: is a folder, not an ONNX file").format(path=shown))
    if size > max_bytes:
        raise BudgetError(
            _(
                "{path}: {size:,} bytes, over the {max_memory} budget of {budget:,} bytes: "
                "raise {max_memory}"
            ),
            path=shown,
            size=size,
            budget=max_bytes,
            max_memory=Param("max_memory"),
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as err:
        raise TensorFileError(
            _("{path}: cannot read ({reason})").format(path=shown, reason=err.strerror)
        ) from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:
        raise TensorFileError(
            _("{path}: not an ONNX model (or truncated): its bytes do not parse").format(path=shown)
        ) from None
    if not model.graph.node:
        raise TensorFileError(_("{path}: not an ONNX model: no graph nodes").format(path=shown))
    try:
        _check_text(model)
        _check_external(model, path, shown)
        return _translate(onnx, model, shown, input_shape)
    except UnicodeDecodeError:
        # protobuf decodes a string field when it is first read.
        raise TensorFileError(
            _("{path}: not an ONNX model (or damaged): a name in it is not UTF-8").format(
                path=shown
            )
        ) from None


def _check_text(model: Any) -> None:
    """Every name is text (protobuf gives bytes, or raises, for a string that is not UTF-8)."""
    graph = model.graph
    names: list[object] = [tensor.name for tensor in graph.initializer]
    names += [value.name for value in (*graph.input, *graph.output, *graph.value_info)]
    for node in graph.node:
        names += [node.name, node.op_type, node.domain, *node.input, *node.output]
        names += [attribute.name for attribute in node.attribute]
    if not all(isinstance(name, str) for name in names):
        raise UnicodeDecodeError("utf-8", b"", 0, 1, "a name is not UTF-8")


def _check_external(model: Any, path: str, shown: str) -> None:
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key != "location":
                continue
            target = os.path.realpath(os.path.join(folder, entry.value))
            if os.path.isabs(entry.value) or os.path.commonpath([folder, target]) != folder:
                raise TensorFileError(
                    _(
                        "{path}: initializer {name!r} points to external data outside the "
                        "model's folder ({location!r}); refused"
                    ).format(path=shown, name=tensor.name, location=entry.value)
                )


def _dims(value_info: Any) -> list[int | str] | None:
    kind = value_info.type.WhichOneof("value")
    if kind != "tensor_type" or not value_info.type.tensor_type.HasField("shape"):
        return None
    dims: list[int | str] = []
    for dim in value_info.type.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or "?")
    return dims


def _translate(onnx: _Onnx, model: Any, shown: str, given: tuple[int, ...] | None) -> OnnxGraph:
    graph = model.graph
    initial = {tensor.name: tuple(int(d) for d in tensor.dims) for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initial]
    if len(inputs) != 1:
        raise OptionError(
            _("{path}: {count} graph inputs; convcli reads graphs with one input").format(
                path=shown, count=len(inputs)
            )
        )
    graph_input = inputs[0]
    dims = _dims(graph_input) or []
    if given is not None:
        if dims and len(given) != len(dims):
            raise OptionError(
                _(
                    "{path}: the graph input {name!r} has {rank} dims, the shape given {given}"
                ).format(path=shown, name=graph_input.name, rank=len(dims), given=len(given))
            )
        shape = tuple(given)
    else:
        symbolic = [str(d) for d in dims if not isinstance(d, int) or d <= 0]
        if not dims or symbolic:
            raise OptionError(
                _(
                    "{path}: the graph input {name!r} has symbolic dims ({dims}): give its "
                    "shape with {input_shape}"
                ),
                path=shown,
                name=graph_input.name,
                dims=", ".join(symbolic) or "?",
                input_shape=Param("input_shape", "NxCxHxW"),
            )
        shape = tuple(int(d) for d in dims)
    if any(d <= 0 or d >= MAX_DIM for d in shape):
        raise OptionError(
            _("{path}: input dims {shape} out of range").format(path=shown, shape=shape)
        )
    # Shapes of every value: shape inference with the input fixed, on a copy of the graph
    # whose big initializers are inputs of their type and shape (no weights copied).
    fixed = onnx.ModelProto()
    fixed.ir_version = model.ir_version
    fixed.opset_import.extend(model.opset_import)
    fixed.functions.extend(model.functions)
    fixed.graph.node.extend(graph.node)
    fixed.graph.output.extend(graph.output)
    for value in graph.input:
        if value.name in initial:
            continue
        added = fixed.graph.input.add()
        added.CopyFrom(value)
        if value.name == graph_input.name:
            added.type.tensor_type.shape.ClearField("dim")
            for d in shape:
                added.type.tensor_type.shape.dim.add().dim_value = d
    for tensor in graph.initializer:
        if math.prod(tensor.dims) <= _SMALL and not tensor.external_data:
            fixed.graph.initializer.append(tensor)
            continue
        added = fixed.graph.input.add()
        added.name = tensor.name
        added.type.tensor_type.elem_type = tensor.data_type
        added.type.tensor_type.shape.SetInParent()
        for d in tensor.dims:
            added.type.tensor_type.shape.dim.add().dim_value = d
    shapes = _infer(onnx, fixed, graph, shown)
    missing = [out for node in graph.node for out in node.output if out and out not in shapes]
    if missing:
        # Shape subgraphs onnx's data propagation does not finish (a Div of a Shape's
        # dims): evaluated here as constants, then the shapes inferred once more.
        folded = _fold(graph, shapes, initial)
        if folded:
            kept = [n for n in fixed.graph.node if not all(o in folded for o in n.output)]
            del fixed.graph.node[:]
            fixed.graph.node.extend(kept)
            for name, value in folded.items():
                fixed.graph.initializer.append(_tensor(onnx, name, value))
            shapes = {**_infer(onnx, fixed, graph, shown), **shapes}
    for _round in range(3):
        # Ops whose output keeps the input's shape but onnx leaves uninferred (function
        # ops such as GroupNormalization): the input's shape, given as a hint, and the
        # shapes after them inferred again.
        hinted = _keep_shapes(graph, shapes)
        if not hinted:
            break
        for name, hint_dims in hinted.items():
            hint = fixed.graph.value_info.add()
            hint.name = name
            hint.type.tensor_type.elem_type = 1
            hint.type.tensor_type.shape.SetInParent()
            for size in hint_dims:
                hint.type.tensor_type.shape.dim.add().dim_value = size
        shapes = {**_infer(onnx, fixed, graph, shown), **shapes, **hinted}
    for value in _big(shapes):
        raise OptionError(
            _("{path}: value {name!r} has dims out of range").format(path=shown, name=value)
        )
    shapes[graph_input.name] = shape
    reader = _Reader(onnx, graph, initial, shapes, graph_input.name, shown)
    return reader.run(shape)


def _infer(onnx: _Onnx, fixed: Any, graph: Any, shown: str) -> dict[str, tuple[int, ...]]:
    try:
        inferred = onnx.ModelProto()
        inferred.ParseFromString(onnx.infer(fixed.SerializeToString(), False, False, True))
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise OptionError(
            _("{path}: its shapes do not infer ({reason})").format(path=shown, reason=first[:200])
        ) from None
    shapes: dict[str, tuple[int, ...]] = {}
    for value in [*inferred.graph.value_info, *inferred.graph.output, *graph.value_info]:
        found = _dims(value)
        if found is not None and all(isinstance(d, int) for d in found):
            shapes.setdefault(value.name, tuple(int(d) for d in found))
    return shapes


_KEEP_SHAPE = {
    "GroupNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "BatchNormalization",
    "Gelu",
    "Mish",
    "HardSwish",
    "HardSigmoid",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Elu",
    "LeakyRelu",
    "PRelu",
    "Softmax",
    "Clip",
    "Erf",
    "Dropout",
    "Identity",
}


def _keep_shapes(graph: Any, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Outputs of shape-keeping ops that have no shape yet, with their input's, in order."""
    hinted: dict[str, tuple[int, ...]] = {}
    for node in graph.node:
        if node.op_type not in _KEEP_SHAPE or not node.input or not node.output:
            continue
        out, source = node.output[0], node.input[0]
        known = shapes.get(source, hinted.get(source))
        if out not in shapes and known is not None:
            hinted[out] = known
    return hinted


def _tensor(onnx: _Onnx, name: str, value: Any) -> Any:
    import numpy as np

    tensor = onnx.ModelProto().graph.initializer.add()
    tensor.name = name
    kind = {np.dtype("int64"): 7, np.dtype("int32"): 6, np.dtype("float32"): 1}.get(value.dtype)
    if kind is None:
        value, kind = value.astype(np.float32), 1
    tensor.data_type = kind
    tensor.dims.extend(value.shape)
    tensor.raw_data = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes()
    return tensor


def _fold(
    graph: Any, shapes: dict[str, tuple[int, ...]], initial: dict[str, tuple[int, ...]]
) -> dict[str, Any]:
    """The values of the small integer subgraphs that compute shapes (Shape, Gather,
    Unsqueeze, Concat, arithmetic, Slice, Cast), from the shapes known so far."""
    import numpy as np

    values: dict[str, Any] = {}
    for tensor in graph.initializer:
        if tensor.name in initial and math.prod(tensor.dims) <= _SMALL:
            array = _array(tensor)
            if array is not None:
                values[tensor.name] = array
    folded: dict[str, Any] = {}
    for node in graph.node:
        op, ins = node.op_type, list(node.input)
        a: dict[str, Any] = {attribute.name: _attribute(attribute) for attribute in node.attribute}
        got: list[Any] = [values.get(name) if name else None for name in ins]
        result: Any = None
        try:
            if op == "Constant" and "value" in a:
                result = _array(a["value"])
            elif op == "Constant" and "value_ints" in a:
                result = np.array(a["value_ints"], np.int64)
            elif op == "Constant" and "value_int" in a:
                result = np.array(a["value_int"], np.int64)
            elif op == "Shape" and ins[0] in shapes:
                dims = shapes[ins[0]]
                result = np.array(dims[a.get("start", 0) : a.get("end", len(dims))], np.int64)
            elif any(value is None for value in got[: _ARITY.get(op, 1)]):
                result = None
            elif op == "Gather":
                result = np.take(got[0], got[1], axis=int(a.get("axis", 0)))
            elif op in ("Add", "Sub", "Mul"):
                result = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}[op](got[0], got[1])
            elif op == "Div":
                if got[0].dtype.kind in "iu":
                    result = (np.trunc(got[0] / got[1])).astype(got[0].dtype)
                else:
                    result = got[0] / got[1]
            elif op in ("Unsqueeze", "Squeeze"):
                axes = a.get("axes") if "axes" in a else (got[1] if len(got) > 1 else None)
                result = got[0]
                if op == "Unsqueeze" and axes is not None:
                    for axis in sorted(int(v) for v in np.reshape(axes, -1)):
                        result = np.expand_dims(
                            result, axis if axis >= 0 else result.ndim + 1 + axis
                        )
                elif op == "Squeeze":
                    result = np.squeeze(
                        result,
                        None if axes is None else tuple(int(v) for v in np.reshape(axes, -1)),
                    )
            elif op == "Concat" and all(value is not None for value in got):
                result = np.concatenate(got, axis=int(a.get("axis", 0)))
            elif op == "Cast":
                result = got[0].astype(_DTYPES.get(int(a.get("to", 7)), "<i8"))
            elif op == "Identity":
                result = got[0]
        except (ValueError, IndexError, TypeError, ZeroDivisionError, FloatingPointError):
            result = None
        if result is not None and np.size(result) <= _SMALL:
            values[node.output[0]] = np.asarray(result)
            if op != "Constant":
                folded[node.output[0]] = np.asarray(result)
    return folded


# Inputs an op needs known to be folded.
_ARITY = {"Gather": 2, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Concat": 1}


def _big(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    return [name for name, dims in shapes.items() if any(d >= MAX_DIM or d < 0 for d in dims)]


class _Reader:
    def __init__(
        self,
        onnx: _Onnx,
        graph: Any,
        initial: dict[str, tuple[int, ...]],
        shapes: dict[str, tuple[int, ...]],
        graph_input: str,
        shown: str,
    ) -> None:
        self.onnx = onnx
        self.graph = graph
        self.initial = initial
        self.shapes = shapes
        self.graph_input = graph_input
        self.shown = shown
        self.constants: dict[str, Any] = {}  # name -> numpy value when known, else None
        for tensor in graph.initializer:
            self.constants[tensor.name] = tensor
        self.alias: dict[str, str] = {graph_input: graph_input}
        self.nodes: list[Node] = []
        self.uncounted: Counter[str] = Counter()
        self.stopped: tuple[str, str] | None = None
        self.produced = {out for node in graph.node for out in node.output}
        self.origin: dict[str, str] = {}
        self.current: Any = None
        self.made: dict[str, Origin] = {}
        self.marked: dict[str, str] = {}  # identity rows standing for an unknown operator
        self.elementwise: dict[str, int] = {}  # initializers used by Add/Sub/Mul/Div
        self.last: set[str] = set()  # values in channels-last order (after a Transpose)
        self.flipped: set[str] = set()  # 2-D values stored features x batch (transposed)
        self.erf: dict[str, str] = {}  # values computed by Erf from the node named
        self.erf_nodes: list[str] = []
        self.erfs_used: set[str] = set()
        self.uses: Counter[str] = Counter()
        # (N, G, L) reshapes of (N, C, H, W): G and the 4-D shape
        self.grouped: dict[str, tuple[int, tuple[int, ...]]] = {}
        # groupnorm rows read from InstanceNormalization whose Mul, Add may follow
        self.affine: dict[str, str] = {}  # row name -> "weight" or "bias" next

    # -- helpers -------------------------------------------------------------------------
    def attrs(self, node: Any) -> dict[str, Any]:
        found = {a.name: _attribute(a) for a in node.attribute}
        return {name: value for name, value in found.items() if value is not None}

    def const_value(self, name: str) -> Any:
        value = self.constants.get(name)
        if value is None or not hasattr(value, "dims") or value.external_data:
            return None
        return _array(value)

    def data_inputs(self, node: Any) -> list[str]:
        return [name for name in node.input if name and name not in self.constants]

    def emit(self, name: str, op: str, inputs: Sequence[str], **attributes: object) -> None:
        self.nodes.append(
            Node(name, op, tuple(self.alias[i] for i in inputs), _compact(attributes, op))
        )
        node = self.current
        self.made[name] = Origin(
            node=str(node.name or name) if node is not None else name,
            op=op,
            position=len(self.nodes),
            scope=_scope(node) if node is not None else None,
            unknown=self.marked.get(name, ""),
            optional=op in ("identity", "chunkpart"),
        )
        self.alias[name] = name

    def label(self, node: Any) -> str:
        """The node's name as messages show it (its output's where it has none)."""
        return _printable(str(node.name or (node.output[0] if node.output else node.op_type)))

    # -- the walk ------------------------------------------------------------------------
    def run(self, shape: tuple[int, ...]) -> OnnxGraph:
        known = {self.graph_input, *self.initial}
        for node in self.graph.node:
            if not node.output or not node.output[0]:
                raise TensorFileError(
                    _("{path}: node {node} ({op}) has no output").format(
                        path=self.shown, node=self.label(node), op=node.op_type
                    )
                )
            for name in node.input:
                if name and name not in known:
                    if name in self.produced:
                        raise OptionError(
                            _(
                                "{path}: node {node} reads {name!r} before it is made "
                                "(a cycle, or nodes out of order)"
                            ).format(path=self.shown, node=self.label(node), name=name)
                        )
                    raise OptionError(
                        _("{path}: node {node} reads {name!r}, which nothing makes").format(
                            path=self.shown, node=self.label(node), name=name
                        )
                    )
            known.update(node.output)
        count = 0
        for node in self.graph.node:
            if self.stopped is not None:
                break
            data = self.data_inputs(node)
            if node.op_type in _CONSTANT_OPS or not data:
                for out in node.output:
                    self.constants[out] = None
                if node.op_type == "Identity" and node.input[0] in self.initial:
                    self.initial[node.output[0]] = self.initial[node.input[0]]
                    self.origin[node.output[0]] = self.origin.get(node.input[0], node.input[0])
                if node.op_type == "Constant":
                    attrs = self.attrs(node)
                    if "value" in attrs:
                        self.constants[node.output[0]] = attrs["value"]
                continue
            count += 1
            try:
                self.one(node, data)
                if (
                    data[0] in self.flipped
                    and node.op_type not in _UNFLIPPING
                    and self.out_shape(node) == self.in_shape(data[0])
                ):
                    # Elementwise on a transposed value: the result is transposed too.
                    self.flipped.add(node.output[0])
            except ConvcliError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError):
                # Attributes of the wrong type or length (a damaged or hand-made file).
                raise TensorFileError(
                    _("{path}: node {node} ({op}): its attributes are malformed").format(
                        path=self.shown, node=self.label(node), op=node.op_type
                    )
                ) from None
            slots = node.input[1:3] if node.op_type == "BatchNormalization" else node.input[1:]
            for name in slots if node.op_type in _WEIGHTED else ():
                if name in self.initial:
                    self.uses[self.origin.get(name, name)] += 1
        for name in self.erf_nodes:
            if name not in self.erfs_used:
                self.uncounted["Erf"] += 1
        if not self.nodes:
            self.nodes.append(Node("_out", "identity", (self.graph_input,)))
        outputs = [o.name for o in self.graph.output]
        last = self.alias.get(outputs[0]) if outputs and self.stopped is None else None
        if last is not None and last != self.nodes[-1].name:
            # The output is not the last node made: cut what follows it (dead ends).
            index = [n.name for n in self.nodes].index(last) if last != self.graph_input else -1
            self.nodes = self.nodes[: index + 1] or [Node("_out", "identity", (last,))]
        nodes = _prune(self.nodes, self.graph_input)
        order: list[str] = []
        try:
            spec = graph_spec(nodes, self.graph_input, order)
        except OptionError as err:
            raise OptionError(f"{self.shown}: {err}") from None
        # The first argument as torch.nn's users write it, positionally (the spec holds
        # only the numbers and flags written here, no names from the file).
        for long, short in _POSITIONAL:
            spec = spec.replace(long, short)
        spec = _CHUNK_START.sub(r"chunk(\1, identity", spec)
        spec = _CHUNK_PART.sub("| identity", spec)
        if "chunkpart" in spec:
            raise OptionError(
                _(
                    "{path}: a Split or Slice of the channels whose equal parts are not "
                    "concatenated again"
                ).format(path=self.shown)
            )
        return OnnxGraph(
            spec=spec,
            input_shape=shape,
            uncounted=tuple(sorted(self.uncounted.items())),
            stopped=self.stopped,
            nodes=count,
            elementwise=sum(self.elementwise.values()),
            origins=tuple(self.made[name] for name in order if name in self.made),
            shared=sum(
                math.prod(self.initial[name]) * (uses - 1) for name, uses in self.uses.items()
            ),
        )

    def in_shape(self, name: str) -> tuple[int, ...] | None:
        return (
            self.shapes.get(name)
            if name != self.graph_input
            else self.shapes.get(name, self.shapes.get("__input__"))
        )

    def out_shape(self, node: Any) -> tuple[int, ...] | None:
        return self.shapes.get(node.output[0])

    def one(self, node: Any, data: list[str]) -> None:
        self.current = node
        op = node.op_type
        out = node.output[0]
        a = self.attrs(node)
        x = data[0]
        if op in _PASS or op == "Erf":
            if x in self.last:
                self.last.add(out)
            self.one_plain(node, x, out)
            return
        if op == "Transpose" and x in self.last and list(a.get("perm", ())) == [0, 3, 1, 2]:
            self.alias[out] = self.alias[x]
            return
        if op == "Transpose" and list(a.get("perm", ())) == [0, 2, 3, 1]:
            self.alias[out] = self.alias[x]
            self.last.add(out)
            return
        if x in self.last:
            self.channels_last(node, a, x, out)
            return
        if op in _ACTIVATIONS:
            self.emit(out, _ACTIVATIONS[op], [x])
            return
        if op == "LeakyRelu":
            self.emit(out, "leakyrelu", [x], negative_slope=round(float(a.get("alpha", 0.01)), 6))
            return
        if op == "Elu":
            self.emit(out, "elu", [x], alpha=round(float(a.get("alpha", 1.0)), 6))
            return
        if op == "Softmax":
            self.emit(out, "softmax", [x], dim=int(a.get("axis", -1)))
            return
        if op == "PRelu":
            slope = self.initial.get(node.input[1], (1,))
            count = 1
            for d in slope:
                count *= d
            self.emit(out, "prelu", [x], num_parameters=count)
            return
        if op == "Clip":
            low, high = self.clip_bounds(node, a)
            if low == 0 and high == 6:
                self.emit(out, "relu6", [x])
            elif low == 0 and high is None:
                self.emit(out, "relu", [x])
            else:
                self.uncounted[op] += 1
                self.mark(node, x, out)
            return
        if op in ("Conv", "ConvTranspose"):
            self.conv(node, a, x, out)
            return
        if op in ("MaxPool", "AveragePool"):
            self.pool(node, a, x, out)
            return
        if op == "GlobalAveragePool":
            self.emit(out, "gap", [x])
            return
        if op == "GlobalMaxPool":
            self.emit(out, "adaptivemaxpool", [x], output_size=1)
            return
        if op == "ReduceMean":
            self.reduce_mean(node, a, x, out)
            return
        if op == "BatchNormalization":
            self.emit(out, "bn", [x], eps=round(float(a.get("epsilon", 1e-5)), 9))
            return
        if op == "InstanceNormalization":
            eps = round(float(a.get("epsilon", 1e-5)), 9)
            if x in self.grouped and self.plain_norm(node):
                self.group_norm(node, x, out, eps)
                return
            # affine=False's ones and zeros are Constant nodes (TorchScript), a weight is
            # stored (dynamo=True stores the ones and zeros too: read as a weight)
            weighted = len(node.input) > 1 and node.input[1] in self.initial
            self.emit(out, "instancenorm", [x], eps=eps, affine=weighted)
            return
        if op == "GroupNormalization":
            groups = int(a["num_groups"])
            eps = round(float(a.get("epsilon", 1e-5)), 9)
            arriving = self.in_shape(x) or ()
            channels = arriving[1] if len(arriving) > 1 else 0
            per = self.const_size(node.input[1]) if len(node.input) > 1 else None
            if per is not None and per != channels and per == groups:
                # opset 18's scale and bias are per group (opset 21 made them per channel,
                # as torch.nn.GroupNorm's): no groupnorm's weight; counted as elementwise
                for name in node.input[1:3]:
                    if name in self.initial:
                        self.elementwise[self.origin.get(name, name)] = per
                self.emit(out, "groupnorm", [x], num_groups=groups, eps=eps, affine=False)
                return
            self.emit(out, "groupnorm", [x], num_groups=groups, eps=eps)
            return
        if op == "LayerNormalization":
            scale = self.initial.get(node.input[1]) if len(node.input) > 1 else None
            normalized = scale if scale else (self.in_shape(x) or (1,))[-1:]
            self.emit(
                out,
                "layernorm",
                [x],
                normalized_shape=normalized[0] if len(normalized) == 1 else tuple(normalized),
                bias=len(node.input) > 2 and bool(node.input[2]),
            )
            return
        if op in ("Gemm", "MatMul"):
            self.linear(node, a, x, out)
            return
        if op in ("Add", "Sub", "Mul", "Div"):
            self.arith(node, data, out)
            return
        axis = int(a.get("axis", 0))
        channels = axis == 1 or (axis == -3 and len(self.in_shape(x) or ()) == 4)
        if op == "Concat" and channels and len(data) == len(node.input):
            if len(data) == 1:
                self.alias[out] = self.alias[x]
            else:
                self.emit(out, "concat", data)
            return
        if op == "Split" and self.split(node, a, x):
            return
        if op == "Slice" and self.channel_slice(node, x, out):
            return
        if op == "Flatten":
            self.emit(out, "flatten", [x], start_dim=int(a.get("axis", 1)))
            return
        if op in ("Reshape", "Transpose", "Squeeze", "Unsqueeze"):
            self.reshape(node, x, out)
            return
        if op in ("Resize", "Upsample"):
            shape = self.out_shape(node)
            mode = a.get("mode", b"nearest")
            mode = mode.decode() if isinstance(mode, bytes) else str(mode)
            if shape is not None and len(shape) == 4:
                self.emit(
                    out,
                    "upsample",
                    [x],
                    size=(shape[2], shape[3]),
                    mode="nearest" if mode == "nearest" else "bilinear",
                )
                return
        if op == "Pad":
            pads = self.pads_of(node, a)
            if pads is not None and len(pads) == 8 and not any(pads[i] for i in (0, 1, 4, 5)):
                t, left, b, r = pads[2], pads[3], pads[6], pads[7]
                self.emit(out, "zeropad", [x], padding=(left, r, t, b))
                return
        self.unknown(node, x, out)

    def split(self, node: Any, a: dict[str, Any], x: str) -> bool:
        """A Split of the channels into equal parts: each part a branch of a ``chunk``
        (written ``chunkpart`` until the graph is a spec)."""
        before = self.in_shape(x)
        parts = [self.shapes.get(name) for name in node.output]
        axis = int(a.get("axis", 0))
        if before is None or len(before) != 4 or axis not in (1, -3) or len(parts) < 2:
            return False
        if any(part is None or part != parts[0] for part in parts):
            return False
        for name in node.output:
            self.emit(name, "chunkpart", [x], n=len(parts))
        return True

    def channel_slice(self, node: Any, x: str, out: str) -> bool:
        """A Slice of the channels into one of n equal parts (how the TorchScript exporter
        writes ``chunk``): a ``chunk`` branch as Split's parts are."""
        before, after = self.in_shape(x), self.out_shape(node)
        if after is None and before is not None and len(before) == 4:
            # Bounds computed from the input's Shape (data propagation stops at them): the
            # Slices of the channels of one value taken as its equal parts.
            axes = self.const_value(node.input[3]) if len(node.input) > 3 else None
            count = sum(
                1
                for other in self.graph.node
                if other.op_type == "Slice" and other.input and other.input[0] == node.input[0]
            )
            if axes is None or [int(v) % 4 for v in axes.reshape(-1)] != [1] or count < 2:
                return False
            if before[1] % count:
                return False
            after = (before[0], before[1] // count, *before[2:])
            self.shapes[out] = after
        if before is None or after is None or len(before) != 4 or len(after) != 4:
            return False
        if before[0] != after[0] or before[2:] != after[2:] or after[1] >= before[1]:
            return False
        if before[1] % after[1]:
            return False
        self.emit(out, "chunkpart", [x], n=before[1] // after[1])
        return True

    def channels_last(self, node: Any, a: dict[str, Any], x: str, out: str) -> None:
        """An op on a channels-last view (N, H, W, C): the walk keeps NCHW, so a
        LayerNormalization over C is layernorm2d and a MatMul over C a 1x1 conv."""
        op = node.op_type
        self.last.add(out)
        if op == "LayerNormalization" and int(a.get("axis", -1)) in (-1, 3):
            self.emit(out, "layernorm2d", [x], eps=round(float(a.get("epsilon", 1e-5)), 9))
            return
        weight = self.initial.get(node.input[1]) if len(node.input) > 1 else None
        if op == "MatMul" and weight is not None and len(weight) == 2:
            self.emit(out, "conv", [x], out_channels=weight[1], kernel_size=1, bias=False)
            return
        if op in ("Add", "Sub", "Mul", "Div"):
            data = self.data_inputs(node)
            if len(data) == 1 or all(d in self.last for d in data):
                self.arith(node, data, out)
                return
        if op in _ACTIVATIONS or op in _PASS or op in ("Erf", "Dropout"):
            self.one_plain(node, x, out)
            return
        self.last.discard(out)
        self.unknown(node, x, out)

    def one_plain(self, node: Any, x: str, out: str) -> None:
        op = node.op_type
        if op in _ACTIVATIONS:
            self.emit(out, _ACTIVATIONS[op], [x])
        elif op == "Erf":
            # Marked until it proves part of a GELU (whose row leaves the mark unused).
            self.erf[out] = self.alias[x]
            self.erf_nodes.append(self.alias[x])
            self.mark(node, x, out)
        else:
            self.alias[out] = self.alias[x]

    def const_size(self, name: str) -> int | None:
        """How many elements the constant ``name`` holds (None: not known)."""
        if name in self.initial:
            return math.prod(self.initial[name])
        value = self.const_value(name)
        return None if value is None else int(value.size)

    def plain_norm(self, node: Any) -> bool:
        """Whether a normalisation's scale is all ones and its bias all zeros (or unknown:
        constants the exporter wrote, not weights)."""
        import numpy as np

        for name, fill in zip(node.input[1:3], (1.0, 0.0), strict=False):
            value = self.const_value(name) if name in self.constants else None
            if isinstance(value, np.ndarray) and not np.all(value == fill):
                return False
        return True

    def group_norm(self, node: Any, x: str, out: str, eps: float) -> None:
        """torch.nn.GroupNorm as exporters write it: Reshape to (N, G, -1), an
        InstanceNormalization of unit scale and zero bias, Reshape back, then Mul by the
        weight and Add the bias per channel (read in ``arith``)."""
        groups, shape = self.grouped[x]
        self.emit(out, "groupnorm", [x], num_groups=groups, eps=eps, affine=False)
        self.affine[out] = "weight"
        self.shapes[out] = shape

    def unknown(self, node: Any, x: str, out: str) -> None:
        before, after = self.in_shape(x), self.out_shape(node)
        if (
            node.op_type in _MOVES
            and before is not None
            and after is not None
            and math.prod(before) == math.prod(after)
        ):
            # Values moved, none computed (a view, as_strided): the walk keeps its shape.
            self.alias[out] = self.alias[x]
            return
        self.uncounted[node.op_type] += 1
        if (before is not None and after is not None and before == after) or (
            node.op_type in _ELEMENTWISE_UNKNOWN
        ):
            self.mark(node, x, out)
            return
        self.stopped = (self.label(node), node.op_type)
        for name in node.output:
            self.constants.setdefault(name, None)

    def mark(self, node: Any, x: str, out: str) -> None:
        """An operator convcli does not know that keeps its input's shape: a row of no
        cost that the table marks with its name."""
        self.marked[out] = node.op_type
        self.emit(out, "identity", [x])

    def clip_bounds(self, node: Any, a: dict[str, Any]) -> tuple[float | None, float | None]:
        if "min" in a or "max" in a:
            return a.get("min"), a.get("max")
        bounds: list[float | None] = []
        for index in (1, 2):
            if len(node.input) > index and node.input[index]:
                value = self.const_value(node.input[index])
                bounds.append(None if value is None else float(value))
            else:
                bounds.append(None)
        return bounds[0], bounds[1]

    def pads_of(self, node: Any, a: dict[str, Any]) -> list[int] | None:
        if "pads" in a:
            return [int(p) for p in a["pads"]]
        if len(node.input) > 1:
            value = self.const_value(node.input[1])
            if value is not None:
                return [int(p) for p in value.reshape(-1)]
        return None

    def conv(self, node: Any, a: dict[str, Any], x: str, out: str) -> None:
        weight = self.initial.get(node.input[1])
        if weight is None or len(weight) != 4:
            self.unknown(node, x, out)
            return
        group = int(a.get("group", 1))
        kernel = (weight[2], weight[3])
        before = self.in_shape(x)
        reads = weight[1] * group if node.op_type == "Conv" else weight[0]
        if before is not None and len(before) == 4 and before[1] != reads:
            raise OptionError(
                _(
                    "{path}: node {node} ({op}) reads {reads} channels, its input has "
                    "{channels} (is the input shape right?)"
                ).format(
                    path=self.shown,
                    node=self.label(node),
                    op=node.op_type,
                    reads=reads,
                    channels=before[1],
                )
            )
        stride = tuple(int(s) for s in a.get("strides", (1, 1)))
        dilation = tuple(int(d) for d in a.get("dilations", (1, 1)))
        bias = len(node.input) > 2 and bool(node.input[2])
        pads = self._pads(node, a, x, kernel, stride, dilation)
        if node.op_type == "ConvTranspose":
            before, after = self.in_shape(x), self.out_shape(node)
            extra = tuple(int(p) for p in a.get("output_padding", (0, 0)))
            if pads is None or pads[0] != pads[2] or pads[1] != pads[3]:
                if before is None or after is None:
                    self.unknown(node, x, out)
                    return
                pads = [0, 0, 0, 0]
            if "output_shape" in a and before is not None and after is not None:
                extra = tuple(
                    after[2 + i]
                    - (
                        (before[2 + i] - 1) * stride[i]
                        - 2 * pads[i]
                        + dilation[i] * (kernel[i] - 1)
                        + 1
                    )
                    for i in range(2)
                )
                if any(e < 0 for e in extra):
                    self.unknown(node, x, out)
                    return
            self.emit(
                out,
                "convT",
                [x],
                out_channels=weight[1] * group,
                kernel_size=kernel,
                stride=stride,
                padding=(pads[0], pads[1]),
                output_padding=extra,
                groups=group,
                bias=bias,
                dilation=dilation,
            )
            return
        if pads is None:
            self.unknown(node, x, out)
            return
        t, left, b, r = pads
        source = x
        if (t, left) != (b, r):
            self.emit(out + "#pad", "zeropad", [x], padding=(left, r, t, b))
            source = out + "#pad"
            t = left = 0
        self.emit(
            out,
            "conv",
            [source],
            out_channels=weight[0],
            kernel_size=kernel,
            stride=stride,
            padding=(t, left),
            dilation=dilation,
            groups=group,
            bias=bias,
        )

    def _pads(
        self,
        node: Any,
        a: dict[str, Any],
        x: str,
        kernel: tuple[int, int],
        stride: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> list[int] | None:
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        if auto in ("NOTSET", ""):
            pads = [int(p) for p in a.get("pads", (0, 0, 0, 0))]
            return pads if len(pads) == 4 else None
        if auto == "VALID":
            return [0, 0, 0, 0]
        shape = self.in_shape(x)
        if shape is None or len(shape) != 4:
            return None
        if node.op_type == "ConvTranspose":
            return None
        begin, end = [], []
        for i in range(2):
            size = shape[2 + i]
            wanted = -(-size // stride[i])
            total = max((wanted - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - size, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        return [begin[0], begin[1], end[0], end[1]]

    def pool(self, node: Any, a: dict[str, Any], x: str, out: str) -> None:
        kernel = tuple(int(k) for k in a.get("kernel_shape", ()))
        if len(kernel) != 2:
            self.unknown(node, x, out)
            return
        stride = tuple(int(s) for s in a.get("strides", (1, 1)))
        dilation = tuple(int(d) for d in a.get("dilations", (1, 1)))
        pads = self._pads(node, a, x, (kernel[0], kernel[1]), stride, dilation)
        if pads is None:
            self.unknown(node, x, out)
            return
        t, left, b, r = pads
        source = x
        ceil = bool(a.get("ceil_mode", 0))
        if (t, left) != (b, r) or 2 * max(t, left, b, r) > min(kernel):
            self.emit(out + "#pad", "zeropad", [x], padding=(left, r, t, b))
            source = out + "#pad"
            t = left = 0
        if node.op_type == "MaxPool":
            self.emit(
                out,
                "maxpool",
                [source],
                kernel_size=kernel,
                stride=stride,
                padding=(t, left),
                dilation=dilation,
                ceil_mode=ceil,
            )
        else:
            self.emit(
                out,
                "avgpool",
                [source],
                kernel_size=kernel,
                stride=stride,
                padding=(t, left),
                ceil_mode=ceil,
                count_include_pad=bool(a.get("count_include_pad", 0)),
            )

    def reduce_mean(self, node: Any, a: dict[str, Any], x: str, out: str) -> None:
        axes = a.get("axes")
        if axes is None and len(node.input) > 1:
            value = self.const_value(node.input[1])
            axes = None if value is None else [int(v) for v in value.reshape(-1)]
        rank = len(self.in_shape(x) or ())
        if axes is not None and rank == 4 and sorted(int(v) % 4 for v in axes) == [2, 3]:
            if int(a.get("keepdims", 1)):
                self.emit(out, "gap", [x])
            else:
                self.emit(out + "#gap", "gap", [x])
                self.emit(out, "flatten", [out + "#gap"])
            return
        self.unknown(node, x, out)

    def linear(self, node: Any, a: dict[str, Any], x: str, out: str) -> None:
        """Gemm or MatMul with a weight: ``x @ W`` (the data first), or ``W @ x`` (the
        weight first: the data's columns are the batch, the result is features x batch).

        The walk holds a 2-D value as batch x features; a value the file holds
        transposed (after a Transpose) is ``flipped``. Transposed once more by the op
        (``transA``, ``transB``), the data must come out with its batch where a linear
        layer has it, else no layer computes this and the file is refused.
        """
        first = len(node.input) > 1 and node.input[0] in self.initial
        weight = self.initial.get(node.input[0] if first else node.input[1])
        if weight is None or len(weight) != 2:
            self.unknown(node, x, out)
            return
        gemm = node.op_type == "Gemm"
        turn_weight = gemm and bool(int(a.get("transA" if first else "transB", 0)))
        turn_data = gemm and bool(int(a.get("transB" if first else "transA", 0)))
        rank = len(self.in_shape(x) or ())
        if first and rank != 2:
            raise OptionError(
                _(
                    "{path}: node {node} ({op}) multiplies its weight by the data (W @ x), "
                    "which mixes the data's axis -2: no layer convcli knows does that"
                ).format(path=self.shown, node=self.label(node), op=node.op_type)
            )
        # op(x) must be batch x features with x first, features x batch with x second.
        upright = turn_data == (x in self.flipped)
        if upright == first:
            raise OptionError(
                _(
                    "{path}: node {node} ({op}) reads its data input's batch axis as its "
                    "features (transA={trans_a}, transB={trans_b}): no layer convcli knows "
                    "does that"
                ).format(
                    path=self.shown,
                    node=self.label(node),
                    op=node.op_type,
                    trans_a=int(a.get("transA", 0)),
                    trans_b=int(a.get("transB", 0)),
                )
            )
        if first:
            features = weight[1] if turn_weight else weight[0]
        else:
            features = weight[0] if turn_weight else weight[1]
        bias = gemm and len(node.input) > 2 and bool(node.input[2])
        self.emit(out, "linear", [x], out_features=int(features), bias=bias)
        if first:
            self.flipped.add(out)

    def arith(self, node: Any, data: list[str], out: str) -> None:
        x = data[0]
        if len(data) == 1:
            last = self.nodes[-1] if self.nodes else None
            const = [name for name in node.input if name in self.constants]
            step = self.affine.get(last.name, "") if last is not None else ""
            shape = (self.in_shape(x) or ()) if step else ()
            channels = shape[1] if len(shape) > 1 else 0
            if (
                last is not None
                and last.name == self.alias[x]
                and (node.op_type, step) in (("Mul", "weight"), ("Add", "bias"))
                and const
                and const[0] in self.initial
                and self.const_size(const[0]) == channels
            ):
                # GroupNorm's weight and bias per channel, stored as weights: the groupnorm
                # is affine (TorchScript writes affine=False's ones and zeros as Constant
                # nodes; dynamo=True as initializers, which are read as a weight)
                attributes = dict(last.attributes)
                if step == "weight":
                    attributes.pop("affine", None)
                    attributes["bias"] = False
                else:
                    attributes.pop("bias", None)
                self.nodes[-1] = Node(last.name, last.op, last.inputs, attributes)
                self.affine[last.name] = "bias" if node.op_type == "Mul" else ""
                self.alias[out] = self.alias[x]
                return
            if (
                node.op_type == "Add"
                and last is not None
                and last.name == self.alias[x]
                and last.op in ("linear", "conv")
                and last.attributes.get("bias") is False
                and const
                and math.prod(self.initial.get(const[0], ()))
                == last.attributes.get("out_channels", last.attributes.get("out_features"))
            ):
                kept = {key: value for key, value in last.attributes.items() if key != "bias"}
                self.nodes[-1] = Node(last.name, last.op, last.inputs, kept)
            else:
                for name in const:
                    size = math.prod(self.initial.get(name, ()))
                    if name in self.initial and size > 1:
                        self.elementwise[self.origin.get(name, name)] = size
            if x in self.erf and node.op_type in ("Add", "Mul", "Div"):
                self.erf[out] = self.erf[x]
            self.alias[out] = self.alias[x]
            return
        erf = [d for d in data if d in self.erf]
        if node.op_type == "Mul" and len(data) == 2 and len(erf) == 1:
            other = data[1] if data[0] == erf[0] else data[0]
            if self.alias[other] == self.erf[erf[0]]:
                # x * (1 + erf(x / sqrt 2)) (* 0.5): GELU as exporters write it.
                self.erfs_used.add(self.erf[erf[0]])
                self.emit(out, "gelu", [other])
                return
        names = [self.alias[d] for d in data]
        if len(set(names)) == 1 and node.op_type == "Mul":
            self.emit(out, "mul", [data[0], data[0]])
            return
        self.emit(out, "add" if node.op_type in ("Add", "Sub") else "mul", data)

    def reshape(self, node: Any, x: str, out: str) -> None:
        before, after = self.in_shape(x), self.out_shape(node)
        if before is None or after is None:
            self.unknown(node, x, out)
            return
        if node.op_type == "Transpose" and len(before) == 2 and before == after[::-1]:
            # Features x batch and back: the walk keeps batch x features.
            self.alias[out] = self.alias[x]
            if x not in self.flipped:
                self.flipped.add(out)
            return
        if before == after:
            self.alias[out] = self.alias[x]
            return
        if len(before) == 4 and len(after) == 2 and after[0] == before[0]:
            self.emit(out, "flatten", [x])
            return
        if (
            node.op_type == "Reshape"
            and len(before) == 4
            and len(after) == 3
            and after[0] == before[0]
            and after[1] > 0
            and before[1] % after[1] == 0
            and math.prod(before) == math.prod(after)
        ):
            # (N, C, H, W) > (N, G, C/G*H*W): a GroupNorm's groups, if an
            # InstanceNormalization follows (torch.nn.GroupNorm as both exporters write it)
            self.grouped[out] = (after[1], before)
            self.alias[out] = self.alias[x]
            return
        # A channel shuffle: (N, C, H, W) > (N, g, C/g, H, W) > transposed > (N, C, H, W).
        if node.op_type == "Reshape" and len(before) == 5 and len(after) == 4:
            self.emit(out, "shuffle", [x], groups=before[2])
            return
        if len(after) == 5 or (node.op_type == "Transpose" and len(before) == 5):
            self.alias[out] = self.alias[x]
            self.shapes[out] = after
            return
        if len(before) == 4 and len(after) == 4 and sorted(before) == sorted(after):
            # A permute (channels last and back): the shape walk keeps NCHW.
            self.alias[out] = self.alias[x]
            return
        if len(after) == 2 and len(before) in (3, 4, 5) and after[0] == before[0]:
            self.emit(out, "flatten", [x])
            return
        self.unknown(node, x, out)


def _scope(node: Any) -> tuple[Scope, ...] | None:
    """The modules a node was computed in, from the root down (None: nothing says).

    PyTorch's ``dynamo=True`` exporter writes them in the node's ``namespace`` metadata
    (``: M/layer1: torch.nn...Sequential/layer1.0: __main__.BasicBlock/add: aten.add``,
    with each module's class); its TorchScript exporter in the node's name
    (``/layer1/layer1.0/conv1/Conv``).
    """
    for entry in node.metadata_props:
        if entry.key == "namespace" and "/" in entry.value:
            found = []
            for part in entry.value.split("/")[1:-1][:_MAX_LEVELS]:
                name, _colon, kind = part.partition(": ")
                kind = kind.rsplit(".", 1)[-1]
                found.append(Scope(_printable(name.strip()), _printable(kind.strip())))
            return tuple(found)
    name = str(node.name)
    if not name.startswith("/"):
        return None
    return tuple(Scope(_printable(part)) for part in name.split("/")[1:-1][:_MAX_LEVELS])


# Module paths deeper than this are cut there (the rest of a path folds into its last).
_MAX_LEVELS = 64


def _printable(text: str, limit: int = 120) -> str:
    """A name from the file as a terminal may show it: control characters escaped
    (``\\x1b``), and at most ``limit`` characters.

    >>> _printable("/layer1/Conv"), _printable("a\\x1b[2Jb\\n"), len(_printable("x" * 500))
    ('/layer1/Conv', 'a\\\\x1b[2Jb\\\\n', 120)
    """
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _prune(nodes: list[Node], graph_input: str) -> list[Node]:
    """Keep only the nodes the last one depends on."""
    by_name = {node.name: node for node in nodes}
    needed: set[str] = set()
    stack = [nodes[-1].name]
    while stack:
        name = stack.pop()
        if name in needed or name == graph_input:
            continue
        needed.add(name)
        stack.extend(by_name[name].inputs if name in by_name else ())
    return [node for node in nodes if node.name in needed]


_DEFAULTS: dict[str, object] = {
    "stride": 1,
    "padding": 0,
    "dilation": 1,
    "groups": 1,
    "output_padding": 0,
    "ceil_mode": False,
    "bias": True,
    "start_dim": 1,
    "eps": 1e-05,
}
_POSITIONAL = (
    ("convT(out_channels=", "convT("),
    ("conv(out_channels=", "conv("),
    ("linear(out_features=", "linear("),
    ("groupnorm(num_groups=", "groupnorm("),
)
_CHUNK_START = re.compile(r"concat\(chunkpart\(n=(\d+)\)")
_CHUNK_PART = re.compile(r"\| chunkpart\(n=\d+\)")
_SHORT = {"kernel_size": "k", "stride": "s", "padding": "p", "dilation": "d", "groups": "g"}


def _compact(attributes: dict[str, object], op: str = "conv") -> dict[str, object]:
    """Attributes as a person writes them: equal pairs as one int, defaults left out
    (a pool's stride stays: its default is the window, ONNX's is 1).

    >>> _compact({"out_channels": 8, "kernel_size": (3, 3), "stride": (1, 1), "padding": (1, 0)})
    {'out_channels': 8, 'k': 3, 'p': (1, 0)}
    """
    kept: dict[str, object] = {}
    for key, value in attributes.items():
        if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
            value = value[0]
        pooled = op.endswith("pool") and key == "stride"
        if (
            key in _DEFAULTS
            and not pooled
            and value == _DEFAULTS[key]
            and type(value) is type(_DEFAULTS[key])
        ):
            continue
        kept[_SHORT.get(key, key)] = value
    return kept


# AttributeProto types: FLOAT, INT, STRING, TENSOR, FLOATS, INTS, STRINGS.
_FLOAT, _INT, _STRING, _TENSOR, _FLOATS, _INTS, _STRINGS = 1, 2, 3, 4, 6, 7, 8


def _attribute(attribute: Any) -> object:
    """An attribute's value (onnx.helper.get_attribute_value for the types ops use)."""
    kind = attribute.type
    if kind == _FLOAT:
        return float(attribute.f)
    if kind == _INT:
        return int(attribute.i)
    if kind == _STRING:
        return bytes(attribute.s)
    if kind == _TENSOR:
        return attribute.t
    if kind == _FLOATS:
        return [float(v) for v in attribute.floats]
    if kind == _INTS:
        return [int(v) for v in attribute.ints]
    if kind == _STRINGS:
        return [bytes(v) for v in attribute.strings]
    return None


# TensorProto data types numpy reads directly, by their numbers.
_DTYPES = {1: "<f4", 2: "u1", 3: "i1", 5: "<i2", 6: "<i4", 7: "<i8", 10: "<f2", 11: "<f8"}


def _array(tensor: Any) -> Any:
    """A small constant tensor's values (numpy), or None for a type not read here."""
    import numpy as np

    dtype = _DTYPES.get(int(tensor.data_type))
    count = math.prod(tensor.dims)
    if dtype is None or count > _SMALL:
        return None
    if tensor.raw_data:
        values = np.frombuffer(tensor.raw_data, dtype=dtype)
    elif tensor.data_type in (1,):
        values = np.array(tensor.float_data, dtype=dtype)
    elif tensor.data_type == 11:
        values = np.array(tensor.double_data, dtype=dtype)
    elif tensor.data_type == 7:
        values = np.array(tensor.int64_data, dtype=dtype)
    else:
        values = np.array(tensor.int32_data, dtype=dtype)
    if values.size != count:
        return None
    return values.reshape(tuple(tensor.dims))
