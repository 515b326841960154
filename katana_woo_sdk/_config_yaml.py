"""YAML text -> plain Python values, plus the line and column of every JSON path in it.

Private helper of `config` (its only caller). `yaml.safe_load` throws the node marks away, so this
module composes the node tree itself and keeps, for every path such as ``("stores", 1, "location")``,
where its key and its value start. That is what lets every config problem be reported as
``file:line:col: $.stores[1].location: message``.

Two deliberate departures from `yaml.safe_load`:

* duplicate mapping keys are reported (PyYAML silently keeps the last one, so a repeated
  ``location:`` would quietly override the first);
* timestamps stay strings: the schema validates ``since`` as text and the loader parses it, so an
  unquoted ``2024-05-01T00:00:00Z`` and a quoted one mean the same thing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

PathT = tuple[Any, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type (see the module docstring)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Mark:
    """A 1-based position in the YAML text."""

    line: int
    col: int


@dataclass(frozen=True)
class Problem:
    """A problem found while reading the YAML itself (before any schema)."""

    path: PathT
    mark: Mark | None
    message: str


@dataclass
class Document:
    """The parsed data and the positions of its parts."""

    data: Any = None
    problems: list[Problem] = field(default_factory=list)
    values: dict[PathT, Mark] = field(default_factory=dict)  # where each path's value starts
    keys: dict[PathT, Mark] = field(default_factory=dict)  # where a mapping entry's key starts
    parsed: bool = False  # False when the YAML could not be read at all

    def mark(self, path: PathT, *, key: bool = False) -> Mark | None:
        """Position of `path` (of its key when `key`), falling back to the closest ancestor."""
        path = tuple(path)
        while True:
            found = (self.keys.get(path) if key else None) or self.values.get(path) or self.keys.get(path)
            if found is not None or not path:
                return found
            path = path[:-1]


def format_path(path: PathT) -> str:
    """``("stores", 1, "location")`` -> ``$.stores[1].location``."""
    out = "$"
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _SIMPLE_KEY.match(part):
            out += f".{part}"
        else:
            out += "[" + repr(str(part)) + "]"
    return out


def _mark(yaml_mark: yaml.error.Mark) -> Mark:
    return Mark(yaml_mark.line + 1, yaml_mark.column + 1)


def _syntax_problem(error: yaml.YAMLError, text: str) -> Problem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if isinstance(error, yaml.MarkedYAMLError):
        # `problem` + `context` only: str(error) would add a snippet of the text around the error.
        problem = error.problem or "invalid YAML"
        if isinstance(error, yaml.constructor.ConstructorError):  # e.g. a !!python/object tag
            message = f"unsupported YAML: {problem} (only plain YAML values are allowed)"
            return Problem((), _mark(mark) if mark is not None else Mark(1, 1), message)
        message = f"YAML syntax error: {problem}"
        if error.context:
            message += f" ({error.context}"
            if error.context_mark is not None and error.context_mark is not mark:
                message += f" at line {error.context_mark.line + 1}"
            message += ")"
        if "'\\t'" in problem or "\t" in problem:
            message += "; YAML does not allow tab characters for indentation, use spaces"
        return Problem((), _mark(mark) if mark is not None else Mark(1, 1), message)
    position = getattr(error, "position", None)  # ReaderError: a character YAML cannot hold
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        return Problem((), Mark(line, col), "the file contains a character YAML does not allow "
                       "(a control character or invalid UTF-8)")
    return Problem((), Mark(1, 1), "YAML error: the file could not be read as YAML")


def _key_of(node: Node) -> Any:
    """The key of a mapping entry (scalar keys are forced to text by `_find_duplicates`)."""
    return node.value if isinstance(node, ScalarNode) else f"<{type(node).__name__}>"


def _entries(node: MappingNode) -> Iterator[tuple[Node, Node]]:
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE_TAG:
            yield key_node, value_node


def _find_duplicates(node: Node, path: PathT, doc: Document, active: set[int]) -> None:
    """Record every repeated key of every mapping (merge keys `<<` excluded: overriding is their point)."""
    if id(node) in active:  # a recursive alias; safe_load would reject it later anyway
        return
    active.add(id(node))
    if isinstance(node, MappingNode):
        seen: dict[Any, Node] = {}
        for key_node, value_node in _entries(node):
            if isinstance(key_node, ScalarNode):
                # JSON, and so the schema, has only text keys: `yes:` or `1:` stays the text written.
                key_node.tag = _STR_TAG
            key = _key_of(key_node)
            if key in seen:
                first = _mark(seen[key].start_mark)
                doc.problems.append(Problem(
                    path + (key,), _mark(key_node.start_mark),
                    f"duplicate key '{key}' (first at line {first.line}); YAML would silently keep "
                    f"only the last one"))
            else:
                seen[key] = key_node
            _find_duplicates(value_node, path + (key,), doc, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _find_duplicates(item, path + (index,), doc, active)
    active.discard(id(node))


def _record_marks(node: Node, path: PathT, doc: Document, active: set[int]) -> None:
    """Positions of every path; run after construction so merge keys (`<<`) are already flattened."""
    if id(node) in active:
        return
    active.add(id(node))
    doc.values.setdefault(path, _mark(node.start_mark))
    if isinstance(node, MappingNode):
        for key_node, value_node in _entries(node):
            child = path + (_key_of(key_node),)
            # Later entries win, as they do when the mapping is constructed.
            doc.keys[child] = _mark(key_node.start_mark)
            doc.values.pop(child, None)
            _record_marks(value_node, child, doc, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            doc.keys[path + (index,)] = _mark(item.start_mark)
            _record_marks(item, path + (index,), doc, active)
    active.discard(id(node))


MAX_VALUES = 100_000  # values after expanding aliases; a config has a few hundred


def _expanded_size(node: Node, memo: dict[int, float], loops: list[Node]) -> float:
    """How many values `node` stands for once aliases are expanded (inf, noted in `loops`, for a node
    that contains itself). Memoised, so an "alias bomb" is measured in linear time, not walked.
    """
    known = memo.get(id(node))
    if known is not None:
        if known == float("inf") and not loops:
            loops.append(node)
        return known
    memo[id(node)] = float("inf")  # met again before it is finished: it contains itself
    if isinstance(node, MappingNode):
        size = 1 + sum(_expanded_size(k, memo, loops) + _expanded_size(v, memo, loops) for k, v in node.value)
    elif isinstance(node, SequenceNode):
        size = 1 + sum(_expanded_size(item, memo, loops) for item in node.value)
    else:
        size = 1
    memo[id(node)] = size
    return size


def parse(text: str) -> Document:
    """Parse one YAML document; syntax errors become a single `Problem` with the mark's position."""
    doc = Document()
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        loops: list[Node] = []
        if node is not None and _expanded_size(node, {}, loops) > MAX_VALUES:
            if loops:
                problem = Problem((), _mark(loops[0].start_mark), "an alias refers to the node that contains "
                                  "it (a recursive anchor); write the value out plainly")
            else:
                problem = Problem((), _mark(node.start_mark), f"the document expands to more than "
                                  f"{MAX_VALUES} values through its aliases; write the config out plainly")
            doc.problems = [problem]
            return doc
        if node is not None:
            _find_duplicates(node, (), doc, set())
            doc.data = loader.construct_document(node)
            _record_marks(node, (), doc, set())
        doc.values.setdefault((), Mark(1, 1))
        doc.parsed = True
    except yaml.YAMLError as error:
        doc.problems = [_syntax_problem(error, text)]
        doc.data = None
    finally:
        loader.dispose()
    return doc
