"""Reading one environment file safely: a mistake or a hostile file gets one message naming the file, never a
traceback, a hang or a memory blow-up.

The YAML is read in three steps. First its events are counted, before any node or Python object exists: nesting
depth and the size the document would have once every alias is expanded (the "billion laughs" pattern is a few
kilobytes that expand to 10**9 values). Only a document within both bounds is composed into nodes, where duplicate
keys are refused (PyYAML would silently keep the last one) and each settings path gets the line it sits on. Then
the nodes become Python data with PyYAML's safe constructor (merge keys `<<:` work, and count in the bounds).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

# A settings file is a few hundred values; these bounds are far above that and far below harm.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 20_000
# Python converts longer numbers slowly or not at all: a 1 MiB sexagesimal integer (1:59:59:...) takes a minute.
MAX_NUMBER_LENGTH = 32

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


class _Mark(Protocol):
    """Where an event or node starts (PyYAML's pure-Python and libyaml marks alike); `line` counts from 0."""

    line: int


@dataclass(frozen=True)
class FileKind:
    """What the reader reads, as its messages name it: an environment's settings file, or a rendered manifest (diff
    compares with a rendered tree, read with the same bounds)."""

    noun: str  # "settings file"
    holds: str  # what its one document is, after "expected "
    one_document: str  # after "a second YAML document (after '---'); "
    size: str  # how big one is, after "larger than 1024 KiB; "
    values: str  # how many values one has, after "has more than 20000 values; "
    depth: str  # how deep it is nested, after "nested more than 64 levels deep; "
    numbers: str  # where numbers have at most MAX_NUMBER_LENGTH characters


SETTINGS = FileKind(
    noun="settings file",
    holds="a mapping of settings keys (argocd:, core_pipeline:, ...)",
    one_document="an environment file holds exactly one",
    size="a settings file is a few KiB",
    values="a settings file is a few hundred",
    depth="settings are a few levels deep",
    numbers="numbers in settings",
)
RENDERED = FileKind(
    noun="rendered manifest",
    holds="one Kubernetes object (apiVersion:, kind:, metadata:, ...), as synth writes each file",
    one_document="synth writes one object per file",
    size="a rendered manifest is a few KiB (the API server stores at most about 1 MiB per object)",
    values="a rendered manifest has a few hundred",
    depth="rendered objects are a few levels deep",
    numbers="numbers in rendered manifests",
)


class SettingsFileError(Exception):
    """A settings file that cannot be read as one YAML mapping; the message names the file (and line)."""

    def __init__(self, message: str, *, counted_values: int | None = None) -> None:
        super().__init__(message)
        #: How many values the alias-expansion counter had reached when it stopped (for a refused expansion).
        self.counted_values = counted_values


@dataclass(frozen=True)
class SettingsFile:
    """An environment file's data, with the line of each settings path for messages."""

    display: str
    data: dict[str, Any]
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    #: The text of each value YAML reads as something other than text (`0755`, which it reads as 493), as written.
    written: dict[tuple[str, ...], str] = field(default_factory=dict)

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """The line of the deepest part of `location` found in the file: a missing key points at its parent,
        and parts the file does not spell (a union's tag such as `in_cluster`) are skipped."""
        found: int | None = None
        path: tuple[str, ...] = ()
        for part in location:
            candidate = (*path, str(part))
            if candidate in self.lines:
                path = candidate
                found = self.lines[candidate]
        return found

    def written_as(self, location: Sequence[str | int]) -> str | None:
        """The text of the non-text value at `location`, as written in the file (None if not such a value)."""
        return self.written.get(tuple(str(part) for part in location))


def display_name(path: Path) -> str:
    """How messages name a file: relative to the working folder when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_settings_file(path: Path, kind: FileKind = SETTINGS) -> SettingsFile:
    """The one mapping in `path`, or SettingsFileError saying what is wrong with the file (named as `kind`)."""
    display = display_name(path)
    return read_settings_text(_read_text(path, display, kind), display, kind)


def settings_text(path: Path) -> str:
    """The text of the settings file `path`, or SettingsFileError saying why it cannot be read as one (size,
    encoding, what kind of file it is): what read_settings_file parses."""
    return _read_text(path, display_name(path))


def read_settings_text(text: str, display: str, kind: FileKind = SETTINGS) -> SettingsFile:
    """The one mapping in `text` (the content a file named `display` would have, e.g. an edit not yet written), or
    SettingsFileError saying what is wrong with it. Size and encoding are the reader's: see read_settings_file."""
    root = _compose(text, display, kind)
    lines: dict[tuple[str, ...], int] = {}
    written: dict[tuple[str, ...], str] = {}
    _check_keys(root, display, (), lines, written, kind)
    try:
        loader = _Loader(text)
        try:
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        raise SettingsFileError(f"{display}:{_at(error.problem_mark)}: {error.problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, ArithmeticError) as error:
        # PyYAML's constructors can fail outside YAMLError, e.g. OverflowError for a float beyond range
        raise SettingsFileError(f"{display}: a value cannot be read: {_short(str(error))}") from None
    return SettingsFile(display=display, data=data, lines=lines, written=written)


def _read_text(path: Path, display: str, kind: FileKind = SETTINGS) -> str:
    if path.is_symlink() and not path.exists():
        try:
            os.stat(path)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise SettingsFileError(
                    f"{display}: a loop of symbolic links (it points to {os.readlink(path)}, which leads back); "
                    f"it must lead to a {kind.noun}"
                ) from None
        raise SettingsFileError(f"{display}: a symbolic link to {os.readlink(path)}, which does not exist")
    if not path.exists():
        raise SettingsFileError(f"{display}: no such {kind.noun}")
    if path.is_dir():
        raise SettingsFileError(f"{display}: a folder, not a {kind.noun}")
    if not path.is_file():  # a FIFO or a device would block the read or never end
        raise SettingsFileError(f"{display}: not a regular file")
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    except OSError as error:
        raise SettingsFileError(f"{display}: cannot be read: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise SettingsFileError(f"{display}: larger than {MAX_BYTES // 1024} KiB; {kind.size}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SettingsFileError(
            f"{display}:{line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); save the file as UTF-8"
        ) from None
    return text


def _compose(text: str, display: str, kind: FileKind) -> yaml.MappingNode:
    """The document's node tree, once its events show it is one document within the bounds."""
    try:
        documents = _measure(_events(text), display, kind)
    except yaml.reader.ReaderError as error:
        # libyaml counts the position in UTF-8 bytes, PyYAML's own reader in characters
        if _Loader is yaml.SafeLoader:
            line = text[: error.position].count("\n") + 1
        else:
            line = text.encode()[: error.position].count(b"\n") + 1
        character = error.character if isinstance(error.character, str) else chr(error.character)
        raise SettingsFileError(
            f"{display}:{line}: not valid YAML: character U+{ord(character):04X} is not allowed (a control character)"
        ) from None
    except yaml.MarkedYAMLError as error:
        raise SettingsFileError(f"{display}:{_at(error.problem_mark)}: not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise SettingsFileError(f"{display}: not valid YAML: {_short(str(error))}") from None
    if documents == 0:
        raise SettingsFileError(f"{display}: empty; expected {kind.holds}")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise SettingsFileError(f"{display}:{_at(error.problem_mark)}: not valid YAML: {error.problem}") from None
    finally:
        loader.dispose()
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == "tag:yaml.org,2002:null"):
        raise SettingsFileError(f"{display}: empty; expected {kind.holds}")
    if not isinstance(root, yaml.MappingNode):
        shape = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        raise SettingsFileError(f"{display}:{_line(root.start_mark)}: the document is {shape}; expected {kind.holds}")
    return root


def _events(text: str) -> Iterator[yaml.Event]:
    loader = _Loader(text)  # PyYAML's own reader refuses control characters here, libyaml's while parsing
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


@dataclass
class _Open:
    """A mapping or sequence whose end event has not come yet."""

    anchor: str | None
    values: int = 1
    height: int = 1


def _measure(events: Iterator[yaml.Event], display: str, kind: FileKind = SETTINGS) -> int:
    """Count the documents, refusing more than one, nesting beyond MAX_DEPTH and alias expansion beyond
    MAX_VALUES. Each anchor's expanded size and height are kept when its node ends, so an alias costs one lookup
    and the whole check is linear in the file, however much the aliases would expand."""
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (expanded values, height)
    open_nodes: list[_Open] = []
    counted = 0
    documents = 0
    has_aliases = False

    def count(values: int, height: int, mark: _Mark | None) -> None:
        """A value (scalar, collection or an alias' expansion) appears where the open collections are."""
        nonlocal counted
        counted += values
        if counted > MAX_VALUES:
            size = (
                f"expands to more than {MAX_VALUES} values once its aliases are expanded"
                if has_aliases
                else f"has more than {MAX_VALUES} values"
            )
            raise SettingsFileError(f"{display}:{_line(mark)}: {size}; {kind.values}", counted_values=counted)
        if len(open_nodes) + height > MAX_DEPTH:
            raise SettingsFileError(f"{display}:{_line(mark)}: nested more than {MAX_DEPTH} levels deep; {kind.depth}")

    def close(values: int, height: int) -> None:
        if open_nodes:
            parent = open_nodes[-1]
            parent.values += values
            parent.height = max(parent.height, height + 1)

    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise SettingsFileError(
                    f"{display}:{_line(event.start_mark)}: a second YAML document (after '---'); {kind.one_document}"
                )
        elif isinstance(event, yaml.AliasEvent):
            has_aliases = True
            anchor = event.anchor
            if any(node.anchor == anchor for node in open_nodes):
                raise SettingsFileError(f"{display}:{_line(event.start_mark)}: alias *{anchor} refers to itself")
            if anchor not in sizes:
                raise SettingsFileError(f"{display}:{_line(event.start_mark)}: alias *{anchor} has no anchor &{anchor}")
            count(*sizes[anchor], event.start_mark)
            close(*sizes[anchor])
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = (1, 1)
            count(1, 1, event.start_mark)
            close(1, 1)
        elif isinstance(event, yaml.CollectionStartEvent):
            count(1, 1, event.start_mark)
            open_nodes.append(_Open(event.anchor))
        elif isinstance(event, yaml.CollectionEndEvent):
            node = open_nodes.pop()
            if node.anchor is not None:
                sizes[node.anchor] = (node.values, node.height)
            close(node.values, node.height)
    return documents


def _check_keys(
    node: yaml.Node,
    display: str,
    path: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    written: dict[tuple[str, ...], str],
    kind: FileKind = SETTINGS,
) -> None:
    """Refuse duplicate and non-text keys, and note the line of every settings path and the text of every value
    YAML reads as something else. The node graph may share nodes through aliases; the bounds above keep the
    expanded walk small."""
    if isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_LENGTH:
        raise SettingsFileError(
            f"{display}:{_line(node.start_mark)}: {'.'.join(path)} is a number of {len(node.value)} characters; "
            f"{kind.numbers} have at most {MAX_NUMBER_LENGTH} (quote it if it is text)"
        )
    if isinstance(node, yaml.ScalarNode) and node.tag != _STR_TAG:
        written[path] = node.value
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, str(index))] = _line(item.start_mark)
            _check_keys(item, display, (*path, str(index)), lines, written, kind)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first_line: dict[str, int] = {}
    merged: list[yaml.Node] = []
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE_TAG:
            merged.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
            continue
        if not isinstance(key, yaml.ScalarNode):
            raise SettingsFileError(f"{display}:{_line(key.start_mark)}: a key must be plain text, not a list or map")
        line = _line(key.start_mark)
        if key.tag != _STR_TAG:  # YAML 1.1 reads `on:`, `no:`, `1:` and `~:` as true, false, a number, null
            raise SettingsFileError(
                f"{display}:{line}: key {_short(key.value, 80)!r} is read by YAML as {_KINDS.get(key.tag, key.tag)}, "
                f"not text: quote it ('{_short(key.value, 80)}':)"
            )
        if key.value in first_line:
            where = ".".join((*path, key.value))
            raise SettingsFileError(
                f"{display}:{line}: duplicate key {where} (first at line {first_line[key.value]}); "
                "YAML keeps only one of them: remove or merge the other"
            )
        first_line[key.value] = line
        lines[(*path, key.value)] = line
        _check_keys(value, display, (*path, key.value), lines, written, kind)
    for source in merged:  # keys brought in by `<<:` point at their own lines, unless written here too
        if isinstance(source, yaml.MappingNode):
            for key, value in source.value:
                if isinstance(key, yaml.ScalarNode) and key.value not in first_line:
                    lines.setdefault((*path, key.value), _line(key.start_mark))
                    _check_keys(value, display, (*path, key.value), lines, written, kind)


_KINDS = {
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
}


def _line(mark: _Mark | None) -> int:
    return mark.line + 1 if mark is not None else 0


def _at(mark: _Mark | None) -> str:
    """`line:column` of a YAML error, both counted from 1 as editors do."""
    column = getattr(mark, "column", None)
    return f"{_line(mark)}:{column + 1}" if column is not None else str(_line(mark))


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
