"""A network as a graph of nodes with named inputs, nested into the spec language.

The front door for readers of model files (ONNX next): each ``Node`` names the value it
produces, the op (a layer of the spec language, or ``concat``, ``add``, ``mul`` joining
several inputs) with its attributes, and the names of its inputs. ``graph_spec`` finds
where each fork joins again (its immediate post-dominator) and writes the graph as a
spec, branches as ``concat(A | B)``, ``add(A | B)`` or ``mul(A | B)``; ``parse_spec``
then reads it like any other, and one walker works on it. A graph that is not built of
chains and joins (a value that leaves a branch for another) is refused, naming the node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from convcli.errors import OptionError
from convcli.i18n import _

__all__ = ["Node", "graph_spec"]

JOIN_OPS = ("concat", "add", "mul")


@dataclass(frozen=True)
class Node:
    """One op: the value ``name`` it produces from ``inputs``, with its ``attributes``."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attributes: Mapping[str, object] = field(default_factory=dict)


def graph_spec(nodes: Sequence[Node], graph_input: str, order: list[str] | None = None) -> str:
    """The spec of a graph whose nodes read ``graph_input`` (the last node is the output).

    Parameters
    ----------
    nodes : sequence of Node
        In an order where every node comes after the nodes it reads.
    graph_input : str
        The name of the network's input value.
    order : list of str, optional
        Filled with the names of the nodes as the spec writes them (a join before its
        branches): the order in which ``walk_network`` makes their rows.

    Returns
    -------
    str
        The spec: chains joined by ``>``, each fork written as the join that ends it.

    Raises
    ------
    OptionError
        A node reads a value no node produces, or the graph is not built of chains and
        joins (named by the node where that shows).

    Examples
    --------
    >>> nodes = [
    ...     Node("a", "conv", ("x",), {"out_channels": 8, "kernel_size": 1}),
    ...     Node("b", "relu", ("a",)),
    ...     Node("c", "conv", ("x",), {"out_channels": 4, "kernel_size": 3, "padding": 1}),
    ...     Node("y", "concat", ("b", "c", "x")),
    ... ]
    >>> graph_spec(nodes, "x")
    'concat(conv(out_channels=8, kernel_size=1) > relu | conv(out_channels=4, kernel_size=3, padding=1) | identity)'
    >>> order: list[str] = []
    >>> _ = graph_spec(nodes, "x", order)
    >>> order
    ['y', 'a', 'b', 'c']
    """  # noqa: E501
    by_name = {node.name: node for node in nodes}
    users: dict[str, list[str]] = {graph_input: []}
    for node in nodes:
        users.setdefault(node.name, [])
        for name in node.inputs:
            if name not in users:
                raise OptionError(
                    _("node {node}: input {name!r} is produced by no node").format(
                        node=node.name, name=name
                    )
                )
            users[name].append(node.name)
    output = nodes[-1].name
    topological = [graph_input, *(node.name for node in nodes)]
    # Post-dominators, from the output back: every path from a value to the output passes them.
    post: dict[str, frozenset[str]] = {}
    for name in reversed(topological):
        following = [post[user] for user in users[name] if user in post]
        if name == output:
            post[name] = frozenset({name})
        elif not following:
            post[name] = frozenset({name})  # a dead end: refused where it is met
        else:
            post[name] = frozenset({name}) | frozenset.intersection(*following)
    position = {name: index for index, name in enumerate(topological)}

    def join_of(value: str) -> str:
        strict = post[value] - {value}
        if not strict:
            raise OptionError(_("node {node}: its branches never join again").format(node=value))
        return min(strict, key=position.__getitem__)

    def chain(value: str, stop: str) -> list[str]:
        layers: list[str] = []
        while value != stop:
            following = users[value]
            if not following:
                raise OptionError(
                    _("node {node}: its value is used by no later node").format(node=value)
                )
            if len(following) == 1 and len(by_name[following[0]].inputs) == 1:
                value = following[0]
                layers.append(written(value))
                continue
            join = join_of(value)
            node = by_name[join]
            if node.op not in JOIN_OPS or position[join] > position[stop]:
                raise OptionError(
                    _(
                        "node {node}: a fork that does not end in one concat, add or mul "
                        "(it ends at {join} {op})"
                    ).format(node=value, join=join, op=node.op)
                )
            if order is not None:
                order.append(join)
            branches = [branch(value, name, join) for name in node.inputs]
            layers.append(f"{node.op}({' | '.join(branches)})")
            value = join
        return layers

    def branch(fork: str, last: str, join: str) -> str:
        if last == fork:
            return "identity"
        firsts = [user for user in users[fork] if user == last or reaches(user, last)]
        if len(firsts) != 1 or len(by_name[firsts[0]].inputs) != 1:
            raise OptionError(
                _("node {node}: its branch into {join} is not a chain of its own").format(
                    node=last, join=join
                )
            )
        return " > ".join([written(firsts[0]), *chain(firsts[0], last)])

    def written(name: str) -> str:
        if order is not None:
            order.append(name)
        return _layer(by_name[name])

    reached: dict[str, frozenset[str]] = {}

    def reaches(start: str, goal: str) -> bool:
        if start not in reached:
            found: set[str] = set()
            for user in users[start]:
                reaches(user, goal)
                found |= {user} | reached[user]
            reached[start] = frozenset(found)
        return goal in reached[start]

    return " > ".join(chain(graph_input, output))


def _layer(node: Node) -> str:
    if not node.attributes:
        return node.op
    arguments = ", ".join(f"{key}={value!r}" for key, value in node.attributes.items())
    return f"{node.op}({arguments})"
