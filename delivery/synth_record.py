"""The record of the last synth of the same inputs, so that a synth with nothing changed loads and writes nothing.

The render cache (delivery/render_cache.py) saves the rendering of each (environment, stack) pair; what is left of a
synth whose every pair comes from it is validating the settings, checking the whole output and comparing each file
with what it would write: more than half a second, most of it importing the settings models. A synth record saves
that too. Its key hashes everything that decides what such a synth writes, and whether it fails:
- the request: the environments and stacks asked for, the output folder, and which environments exist (the Argo
  CD fleet is written only when all of them are rendered);
- the text of each rendered environment's settings file: validating the same text with the same code gives the
  same settings, or the same error;
- the project's files and the toolchain, as the render cache's keys hash them (render_cache.code_version), and the
  engine.
Its value is a hash of the folders that synth replaced in the output folder, as it left them (every file's bytes
and every folder's name), and the summary it printed. A synth whose key has a record, over folders that hash the
same, has nothing to write: the same inputs validate, render and pass the checks exactly as before, and the files
are already there. So it prints the recorded summary and ends, before loading the settings models, cdk8s or Node.
Anything else (a changed file, a folder edited by hand, a synth that failed or was killed) renders as usual, and a
successful synth records itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from delivery.output import FLEET_FOLDER, OutputError, leftovers, output_lock
from delivery.render_cache import read_entry, touch
from environment_model.paths import write_atomically
from environment_model.registry import StackDefinition

# Bumped whenever a record's layout or the meaning of its key changes: older records then miss.
FORMAT = 2


@dataclass
class SynthRecord:
    """One synth request's record: its key, and the summary recorded under it if the output is as it left it."""

    folder: Path
    key: str | None
    summary: list[str] | None = None
    _output: str | None = None
    _environments: list[str] = field(default_factory=list)
    _available: list[str] = field(default_factory=list)

    def _path(self) -> Path:
        return self.folder / f"synth-{self.key}.json"

    def output_written(self, out: Path) -> None:
        """Note what the synth left in `out`: call it holding the output folder (synth.write's `committed`), so
        that what is noted is this synth's output and not another's that came after it."""
        try:
            self._output = _tree_digest(out, self._environments, self._available)
        except (OSError, _NotPlainError):
            self._output = None

    def store(self, summary: Sequence[str]) -> None:
        """Record the synth, which succeeded, with its summary. Ignored if it cannot be written (the next synth only
        renders again), if a settings file could not be read when the key was made, or if the output was not noted."""
        if self.key is not None and self._output is not None:
            payload = {"format": FORMAT, "key": self.key, "output": self._output, "summary": list(summary)}
            write_atomically(self._path(), json.dumps(payload, sort_keys=True))


def previous_synth(
    folder: Path,
    texts: Mapping[str, str | None],
    stacks: Sequence[StackDefinition],
    out: Path,
    *,
    code: str,
    engine: str,
    available: Sequence[str],
) -> SynthRecord:
    """The record of a synth of the environments of `texts` (environment -> its settings file's text, None where it
    could not be read) x `stacks` into `out` with the same inputs, looked up in the cache at `folder`; its `summary`
    is set only when `out` holds exactly what that synth left there. `code`: render_cache.code_version();
    `available`: every environment there is (the fleet is written when all are rendered)."""
    environments = list(texts)
    if any(text is None for text in texts.values()):  # the synth reports it; a failed synth is never recorded
        return SynthRecord(folder, None)
    payload = [FORMAT, environments, [stack.name for stack in stacks], str(out.resolve()), list(available)]
    payload += [engine, code, texts]
    key = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    record = SynthRecord(folder, key, _environments=environments, _available=list(available))
    stored = read_entry(record._path(), key, FORMAT)
    if stored is None:
        return record
    summary = stored.get("summary")
    if not (isinstance(summary, list) and all(isinstance(line, str) for line in summary)):
        return record
    if output_digest(out, environments, available) == stored.get("output"):
        record.summary = summary
        touch(record._path())
    return record


def output_digest(out: Path, environments: Sequence[str], available: Sequence[str]) -> str | None:
    """One hash over the folders a synth of `environments` replaces in `out` (<env>/, argocd/<env>/, and argocd's
    fleet folder when every environment of `available` is rendered): each entry's path, kind and, for a file, its
    bytes. None when one of them is missing or is not a plain folder, or when a killed synth's leftovers wait to be
    put right: the synth must run then."""
    try:
        with output_lock(out, create=False):  # not while another synth swaps folders in
            return None if leftovers(out) else _tree_digest(out, environments, available)
    except (OSError, OutputError, _NotPlainError):
        return None


def _tree_digest(out: Path, environments: Sequence[str], available: Sequence[str]) -> str | None:
    folders = [out / env for env in environments] + [out / "argocd" / env for env in environments]
    if set(environments) == set(available):
        folders.append(out / "argocd" / FLEET_FOLDER)
    digest = hashlib.sha256()
    for folder in folders:
        if folder.is_symlink() or not folder.is_dir():
            return None
        _hash_tree(folder, out, digest)
    return digest.hexdigest()


class _NotPlainError(Exception):
    """An entry a synth never writes (a symbolic link, a device): the synth decides what to do with it."""


def _hash_tree(folder: Path, out: Path, digest: hashlib._Hash) -> None:
    for entry in sorted(os.scandir(folder), key=lambda item: item.name):
        relative = os.path.relpath(entry.path, out)
        if entry.is_symlink():
            raise _NotPlainError(relative)
        if entry.is_dir():
            digest.update(f"d\0{relative}\0".encode())
            _hash_tree(Path(entry.path), out, digest)
        elif entry.is_file():
            content = Path(entry.path).read_bytes()
            digest.update(f"f\0{relative}\0{len(content)}\0".encode())
            digest.update(content)
        else:
            raise _NotPlainError(relative)
