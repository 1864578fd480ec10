"""Image tags moved between environments' settings files: `promote` copies every image tag of a stack from one
environment to another, `set-image` sets one tag (what CI runs after pushing a build).

Both edit the file as a person would: ruamel.yaml's round trip keeps comments, quoting, key order and layout, and
only the tag lines change (a file whose layout the round trip would not reproduce is refused, not reformatted). The
edited text is validated with the settings loader before anything is written, and written atomically (a temporary
file renamed over the old one, only if the old one did not change meanwhile). Bad input is one PromoteError
sentence, and nothing is written.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import ScalarString

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

    def write(self) -> None:
        """Replace the settings file with the edited text atomically, if nobody changed it since it was read."""
        target = self.path.resolve()  # a symbolic link stays one: its target is what gets replaced
        if target.read_bytes() != self.original:
            raise PromoteError(f"{display_name(self.path)} changed while this ran; nothing was written, run it again")
        mode = target.stat().st_mode & 0o7777
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(self.text)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
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
    text = original.decode("utf-8-sig")
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
            _set_tag(document, image, tag)
            changes.append(TagChange(image, tag))
    if not changes:
        return SettingsEdit(stack.name, env, path, original, text, (), tuple(missing))
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    edited = buffer.getvalue()
    _validate(env, edited, display_name(path))
    return SettingsEdit(stack.name, env, path, original, edited, tuple(changes), tuple(missing))


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
        node["repository"] = image.repository
    old = node.get("tag")
    node["tag"] = type(old)(tag) if isinstance(old, ScalarString) else tag


def _validate(env: str, text: str, display: str) -> None:
    """The edited file as the settings loader would read it: every rule a synth applies to it."""
    try:
        source = read_settings_text(text, display)
        parse_environment(env, source.data, source)
    except (SettingsFileError, SettingsError) as error:
        raise PromoteError(f"the edited {display} would not be valid, so nothing was written:\n{error}") from None
