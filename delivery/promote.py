"""Image tags moved between environments' settings files: `promote` copies every image tag of a stack from one
environment to another, `set-image` sets one tag (what CI runs after pushing a build).

Both edit the file as a person would: ruamel.yaml's round trip keeps comments, quoting, key order and layout, and
only the tag lines change (a file whose layout the round trip would not reproduce is refused, not reformatted; a
byte order mark and Windows line breaks are kept; a tag YAML would read as another type, such as `on` or `1.10`, is quoted). An image shared
through a YAML anchor (`image: &img {...}` used again as `*img` or merged with `<<:`) is refused: setting its tag
would change every place that uses it. The edited text is validated with the settings loader before anything is
written, and written atomically (a temporary file renamed over the old one, only if the old one did not change
meanwhile). Bad input is one PromoteError sentence, and nothing is written.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml as pyyaml
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, PlainScalarString, ScalarString

from environment_model.paths import available_environments, environments_dir
from environment_model.registry import StackDefinition, get_stack, stack_names
from environment_model.settings import EnvironmentSettings, SettingsError, load_environment, parse_environment
from environment_model.settings_file import SettingsFileError, display_name, read_settings_text
from value_types.images import ImageSettings, mutable_tag_problem

SettingsPath = tuple[str | int, ...]

# Indentation styles a settings file may use (mapping, sequence, sequence dash offset): the first that reproduces
# the file byte for byte is used to write it back.
_LAYOUTS = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4))


class PromoteError(Exception):
    """A promote or set-image that cannot be done, in one sentence; nothing was written."""


@dataclass(frozen=True)
class StackImage:
    """One image setting of a stack in one environment."""

    path: SettingsPath  # of the image mapping in the environment file, e.g. ("verta", "backend", "image")
    repository: str
    tag: str

    @property
    def name(self) -> str:
        """What `--image` calls it: its path inside the stack's section without the final `image` (`backend`,
        `bot`, `redis`), or `image` for the stack's own."""
        inner = [str(part) for part in self.path[1:]]
        if inner[-1:] == ["image"] and len(inner) > 1:
            inner = inner[:-1]
        return ".".join(inner)

    @property
    def setting(self) -> str:
        return ".".join(str(part) for part in self.path)


@dataclass(frozen=True)
class TagChange:
    image: StackImage  # as it is in the target environment now (repository, old tag)
    new_tag: str


@dataclass(frozen=True)
class SettingsEdit:
    """New image tags for one stack in one environment's settings file, validated and not yet written."""

    stack: str
    env: str
    path: Path
    original: bytes
    text: str
    changes: tuple[TagChange, ...]
    #: Settings paths of the source's images that this environment does not have (an optional part it leaves out).
    missing: tuple[str, ...] = ()
    #: The file starts with a UTF-8 byte order mark (`text` does not hold it): written back as it was.
    byte_order_mark: bool = False
    #: The file's line break, "\r\n" for a file written on Windows (`text` has "\n"): written back as it was.
    line_break: str = "\n"

    def describe(self) -> list[str]:
        """One line per changed tag, or one saying there is nothing to change."""
        notes = [f"note: {self.env} has no {setting}; left as it is" for setting in self.missing]
        if not self.changes:
            return [*notes, f"{self.env}: {self.stack}'s image tags are already these; nothing to change"]
        return [
            *notes,
            *(
                f"{display_name(self.path)}: {self.env}.{change.image.setting}.tag {change.image.tag} -> "
                f"{change.new_tag} ({change.image.repository})"
                for change in self.changes
            ),
        ]

    @contextlib.contextmanager
    def staged(self) -> Iterator[Path]:
        """A temporary environments folder holding the edited file alone, to render it before it is written."""
        with tempfile.TemporaryDirectory(prefix="promote-") as folder:
            (Path(folder) / f"{self.env}.yaml").write_text(self.text, encoding="utf-8")
            yield Path(folder)

    def write_problem(self) -> str | None:
        """Why the settings file cannot be replaced, if it cannot: one line naming the file, not the temporary file
        a write goes through. A file without write permission counts as not writable even for root: the rename
        would replace it all the same, and its owner made it read-only."""
        target = self.path.resolve()
        name = display_name(self.path)
        if not target.stat().st_mode & 0o222 or not os.access(target, os.W_OK):
            return f"{name}: not writable (its permissions or its file system forbid it); nothing was written"
        if not os.access(target.parent, os.W_OK | os.X_OK):
            return (
                f"{name}: cannot be replaced, as its folder {display_name(target.parent)} is not writable (the edit is "
                "written beside it, then renamed over it); nothing was written"
            )
        return None

    def write(self) -> None:
        """Replace the settings file with the edited text atomically, if nobody changed it since it was read."""
        target = self.path.resolve()  # a symbolic link stays one: its target is what gets replaced
        name = display_name(self.path)
        if target.read_bytes() != self.original:
            raise PromoteError(f"{name} changed while this ran; nothing was written, run it again")
        if problem := self.write_problem():
            raise PromoteError(problem)
        mode = target.stat().st_mode & 0o7777
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as error:
            raise PromoteError(f"{name}: cannot be written: {error.strerror or error}; nothing was written") from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(("\ufeff" if self.byte_order_mark else "") + self.text.replace("\n", self.line_break))
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(error, OSError):
                raise PromoteError(
                    f"{name}: cannot be written: {error.strerror or error}; nothing was written"
                ) from None
            raise


def plan_promotion(stack_name: str, source_env: str, target_env: str) -> SettingsEdit:
    """Every image tag of `stack_name` in `source_env`, set in `target_env`'s settings file."""
    stack = _stack(stack_name)
    for env in (source_env, target_env):
        _check_environment(env)
    if source_env == target_env:
        raise PromoteError(f"--from and --to are both {source_env!r}; promote copies tags between two environments")
    source = {image.path: image for image in stack_images(_load(source_env), stack)}
    target = {image.path: image for image in stack_images(_load(target_env), stack)}
    new_tags = {}
    for path, image in source.items():
        counterpart = target.get(path)
        if counterpart is not None and counterpart.repository != image.repository:
            raise PromoteError(
                f"{source_env}.{image.setting} is {image.repository} but {target_env}'s is {counterpart.repository}; "
                f"promote copies tags between the same images, so set {target_env}'s repository first"
            )
        problem = mutable_tag_problem(image.tag)
        if problem is not None:
            raise PromoteError(f"{source_env}.{image.setting}.tag: {problem}")
        new_tags[path] = image.tag
    return _edit(stack, target_env, new_tags)


def plan_set_image(stack_name: str, tag: str, env: str, image_name: str | None = None) -> SettingsEdit:
    """`tag` as the tag of one image of `stack_name` in `env` (the stack's only one, or the one named)."""
    stack = _stack(stack_name)
    _check_environment(env)
    problem = mutable_tag_problem(tag)
    if problem is not None:
        raise PromoteError(problem)
    images = stack_images(_load(env), stack)
    if image_name is None:
        if len(images) > 1:
            raise PromoteError(
                f"{stack.name} has {len(images)} images in {env}; name one with --image: {_names(images)}"
            )
        chosen = images[0]
    else:
        found = [image for image in images if image_name in _aliases(image)]
        if not found:
            raise PromoteError(f"{stack.name} has no image {image_name!r} in {env}; its images: {_names(images)}")
        chosen = found[0]
    return _edit(stack, env, {chosen.path: tag})


def stack_images(settings: EnvironmentSettings, stack: StackDefinition) -> list[StackImage]:
    """Every image setting of the stack in these settings, defaults included, in the order of the settings models;
    not those of a feature switched off (`enabled: false`), which renders none."""
    found: list[StackImage] = []

    def walk(value: Any, path: SettingsPath) -> None:
        if isinstance(value, ImageSettings):
            found.append(StackImage(path, value.repository, value.tag))
        elif isinstance(value, BaseModel) and getattr(value, "enabled", True) is False:
            return  # a feature switched off renders no image: nothing to promote
        elif isinstance(value, BaseModel):
            for field in type(value).model_fields:
                walk(getattr(value, field), (*path, field))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, (*path, index))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, str(key)))

    walk(getattr(settings, stack.settings_field), (stack.settings_field,))
    return found


def _aliases(image: StackImage) -> set[str]:
    """The names `--image` accepts for an image: its name, its settings path, its repository or the repository's
    last part (`verta-backend`)."""
    return {image.name, image.setting, image.repository, image.repository.rpartition("/")[2]}


def _names(images: list[StackImage]) -> str:
    return ", ".join(f"{image.name} ({image.repository})" for image in images)


def _stack(name: str) -> StackDefinition:
    if name not in stack_names():
        raise PromoteError(f"no stack {name!r}; the stacks are {', '.join(stack_names())}")
    return get_stack(name)


def _check_environment(env: str) -> None:
    if env not in available_environments():
        where = display_name(environments_dir() / f"{env}.yaml")
        raise PromoteError(
            f"no environment {env!r} ({where} does not exist); the environments are "
            f"{', '.join(available_environments())}"
        )


def _load(env: str) -> EnvironmentSettings:
    try:
        return load_environment(env)
    except SettingsError as error:
        raise PromoteError(f"{env}'s settings must be valid before an image is changed:\n{error}") from None


def _edit(stack: StackDefinition, env: str, new_tags: dict[SettingsPath, str]) -> SettingsEdit:
    """The settings file of `env` with these tags set at these image paths, checked by the settings loader."""
    path = environments_dir() / f"{env}.yaml"
    original = path.resolve().read_bytes()
    byte_order_mark = original.startswith(codecs.BOM_UTF8)
    text = original.decode("utf-8-sig")
    # Windows line breaks throughout: edited as "\n" (ruamel writes those), written back as they were.
    line_break = "\r\n" if "\r\n" in text and text.count("\r\n") == text.count("\n") else "\n"
    text = text.replace("\r\n", "\n") if line_break == "\r\n" else text
    yaml = _round_trip(text, display_name(path))
    document = yaml.load(text)
    current = {image.path: image for image in stack_images(_load(env), stack)}
    changes: list[TagChange] = []
    missing: list[str] = []
    for image_path, tag in new_tags.items():
        image = current.get(image_path)
        if image is None:  # an optional part the target leaves out: nothing to set there
            missing.append(".".join(str(part) for part in image_path))
        elif image.tag != tag:
            _refuse_shared(document, image, text, f"{display_name(path)}", env)
            _set_tag(document, image, tag)
            changes.append(TagChange(image, tag))
    if not changes:
        return SettingsEdit(stack.name, env, path, original, text, (), tuple(missing), byte_order_mark, line_break)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    edited = buffer.getvalue()
    _validate(env, edited, display_name(path))
    return SettingsEdit(
        stack.name, env, path, original, edited, tuple(changes), tuple(missing), byte_order_mark, line_break
    )


def _round_trip(text: str, display: str) -> YAML:
    """A ruamel.yaml round-tripper that writes this file back byte for byte when nothing changed."""
    for mapping, sequence, offset in _LAYOUTS:
        yaml = YAML()  # round trip: comments, key order, flow and block styles kept
        yaml.preserve_quotes = True
        yaml.width = 4096  # never fold a long line
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        try:
            buffer = io.StringIO()
            yaml.dump(yaml.load(text), buffer)
        except YAMLError as error:
            raise PromoteError(f"{display}: cannot be read for editing: {str(error).splitlines()[0]}") from None
        if buffer.getvalue() == text:
            return yaml
    raise PromoteError(
        f"{display}: its layout (indentation, line breaks or spacing) could not be kept by an automatic edit, so "
        f"nothing was written; edit the tag by hand, or indent mappings by 2 and list items by 2 or 4"
    )


def _set_tag(document: Any, image: StackImage, tag: str) -> None:
    """Set the tag of `image` in the round-trip document, keeping the old value's quoting. An image the file does
    not spell out (a default) is added with its repository."""
    node = document
    for part in image.path:
        if isinstance(part, int):
            node = node[part]
            continue
        if part not in node or node[part] is None:
            node[part] = CommentedMap()
        node = node[part]
    if "repository" not in node:
        node["repository"] = _as_text(image.repository)
    old = node.get("tag")
    keep_quoting = isinstance(old, ScalarString) and not isinstance(old, PlainScalarString)
    node["tag"] = type(old)(tag) if keep_quoting else _as_text(tag)


# How the settings loader (PyYAML, YAML 1.1) reads a plain scalar.
_RESOLVER = pyyaml.resolver.Resolver()


def _as_text(value: str) -> str:
    """`value` as a plain scalar, or double-quoted where YAML 1.1 (as the settings loader reads it) would read the
    plain scalar as something else: `on`, `yes`, `1.10`, `2024-01-01`, `~`. ruamel writes YAML 1.2, where `on` is
    text, so it would write it plain."""
    resolved: str = _RESOLVER.resolve(pyyaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return value if resolved == "tag:yaml.org,2002:str" else DoubleQuotedScalarString(value)


def _refuse_shared(document: Any, image: StackImage, text: str, display: str, env: str) -> None:
    """PromoteError, in one line naming the line of the anchor, if setting `image`'s tag would change a node that a
    YAML alias (`*img`) or merge key (`<<: *img`) uses elsewhere too: every place using it would change, and the
    diff shown (of this stack alone) would leave them out."""
    uses = _uses(document)
    node = document
    for depth, part in enumerate(image.path):
        if uses[id(node)] > 1:
            _shared(node, image.path[:depth], text, display, env)
        if isinstance(node, CommentedMap) and isinstance(part, str) and part not in dict(node.non_merged_items()):
            # A key brought in by `<<:`: its value belongs to the merged mapping, wherever else that is used.
            source = next((source for source in node.merge if part in source), None)
            if source is not None and uses[id(source)] > 1:
                _shared(source, image.path[: depth + 1], text, display, env)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return  # not spelled out from here on: _set_tag writes it into the (unshared) mapping above
    if uses[id(node)] > 1:
        _shared(node, image.path, text, display, env)
    tag = dict(node.non_merged_items()).get("tag") if isinstance(node, CommentedMap) else None
    if _anchor(tag) is not None and uses[id(tag)] > 1:
        _shared(tag, (*image.path, "tag"), text, display, env)


def _uses(node: Any, counts: Counter[int] | None = None) -> Counter[int]:
    """How many places use each mapping, list and anchored value of a round-trip document (by identity: an alias
    or a merge is the same object again)."""
    counts = Counter() if counts is None else counts
    if isinstance(node, CommentedMap | CommentedSeq) or _anchor(node) is not None:
        counts[id(node)] += 1
        if counts[id(node)] > 1:
            return counts  # what it holds is counted once
    if isinstance(node, CommentedMap):
        for _, value in node.non_merged_items():
            _uses(value, counts)
        for source in node.merge:
            _uses(source, counts)
    elif isinstance(node, CommentedSeq):
        for item in node:
            _uses(item, counts)
    return counts


def _anchor(node: Any) -> str | None:
    """The name of the anchor (`&name`) a round-trip node carries, if any."""
    value = getattr(getattr(node, "anchor", None), "value", None)
    return value if isinstance(value, str) else None


def _shared(node: Any, path: SettingsPath, text: str, display: str, env: str) -> None:
    """The PromoteError for a change to `node`, at settings `path`, which its anchor shares with other places."""
    name = _anchor(node) or "?"
    lines = (
        event.start_mark.line + 1
        for event in pyyaml.parse(text, Loader=pyyaml.SafeLoader)
        if not isinstance(event, pyyaml.AliasEvent) and getattr(event, "anchor", None) == name and event.start_mark
    )
    where = ".".join([env, *(str(part) for part in path)])
    raise PromoteError(
        f"{display}:{next(lines, 0)}: {where} is shared through the YAML anchor &{name}, which an alias or a `<<:` "
        "merge uses elsewhere too; setting the tag would change every place that uses it, so nothing was written: "
        "write the image out in full where it is set, then run this again"
    )


def _validate(env: str, text: str, display: str) -> None:
    """The edited file as the settings loader would read it: every rule a synth applies to it."""
    try:
        source = read_settings_text(text, display)
        parse_environment(env, source.data, source)
    except (SettingsFileError, SettingsError) as error:
        raise PromoteError(f"the edited {display} would not be valid, so nothing was written:\n{error}") from None
