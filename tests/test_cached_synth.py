"""The render cache inside a synth: after random edits (settings values in any section of any environment, sources
anywhere in the project, damaged entries) a cached synth writes exactly what `--no-cache` writes, or both fail with
the same message; `--no-cache` never reads the cache. The store, its keys and the project's fingerprint alone are
tested in test_render_cache.py."""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import main
from delivery import pipeline, render_cache
from environment_model.registry import STACKS, get_stack, rendered_with
from environment_model.settings_file import settings_text
from tests.cache_edits import (
    COUNT_VARIABLE,
    DAMAGES,
    ENVIRONMENTS,
    SEED_VARIABLE,
    SETTINGS_EDITS,
    SOURCE_EDITS,
    SynthOutcome,
    copy_environments,
    copy_project,
    damage_entry,
    edit_settings,
    edit_sources,
    edits_count,
    edits_seed,
    part,
    run_synth,
    tree,
)

ENGINE = "plain"
# (code, environment, settings text, stack): the inputs of one cache entry.
Pair = tuple[str, str, str, str]
# The edits a differential run makes, by family, with their weights; the settings edits that make a sampled synth
# worth comparing (output changed, refused) are forced into the sample.
SETTINGS_WEIGHTS = {"value": 6, "text": 2, "comment": 1, "reorder": 1, "image tag": 1, "prometheus labels": 1}
FAMILY_WEIGHTS = {"settings": 50, "source": 35, "damage": 15}
FORCED = [("settings", "image tag"), ("settings", "prometheus labels"), ("settings", "unknown key")]
FORCED += [("damage", "damage"), ("damage", "damage")]


@dataclass
class Expected:
    """What the cache folder must hold, from the synths the test ran: the entries stored (found by every look-up of
    the same inputs until damaged), and those a failed synth may have stored."""

    stored: set[Pair] = field(default_factory=set)
    maybe: set[Pair] = field(default_factory=set)


class EditRun:
    """One seeded run of random edits over copies of the settings and of the project's sources, each checked
    against the cache and, for a sample, by a synth with the cache and one without."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
        self.tmp_path, self.seed = tmp_path, seed
        self.rng = random.Random(seed)
        self.environments = copy_environments(tmp_path / "environments")
        self.project = copy_project(tmp_path / "project")
        self.cache = tmp_path / "cache"
        self.output = tmp_path / "dist"  # where every whole synth goes, as `make synth` writes dist/
        monkeypatch.setenv("ENVIRONMENTS_DIR", str(self.environments))
        monkeypatch.setenv("RENDER_CACHE", str(self.cache))
        # The synths key their entries on the copy's code, so that a source edit there is what a real one is to
        # the cache (they render the real sources, which the copy equals whenever a synth runs: edits are undone).
        self.code_of_copy = functools.partial(render_cache.code_version, self.project)
        monkeypatch.setattr(render_cache, "code_version", self.code_of_copy)
        self.code = self.code_of_copy()
        self.expected = Expected()
        self.output_tree: dict[str, bytes | None] = {}
        self.history: list[str] = []
        self.synths = 0
        self.found_checked = 0
        self.compared: dict[str, int] = {"changed output": 0, "refused": 0, "damaged": 0}

    # -- reporting --------------------------------------------------------------------------------------------

    def context(self, moment: str) -> str:
        recent = "\n  ".join(self.history[-4:])
        return (
            f"{moment}; replay with {SEED_VARIABLE}={self.seed} {COUNT_VARIABLE}={edits_count()}\n"
            f"last edits:\n  {recent}"
        )

    # -- settings ---------------------------------------------------------------------------------------------

    def texts(self) -> dict[str, str]:
        return {env: settings_text(self.environments / f"{env}.yaml") for env in ENVIRONMENTS}

    def write_settings(self, env: str, text: str) -> None:
        (self.environments / f"{env}.yaml").write_text(text, encoding="utf-8")

    # -- synths and what they leave in the cache ----------------------------------------------------------------

    def synth(self, out: Path, *options: str) -> SynthOutcome:
        """A synth with the cache, and what it leaves in the cache folder noted in `expected`."""
        environments = [options[index + 1] for index, option in enumerate(options) if option == "--env"]
        environments = environments or list(ENVIRONMENTS)
        texts = self.texts()
        outcome = run_synth(out, *options)
        pairs = {(self.code, env, texts[env], stack.name) for env in environments for stack in rendered_with(STACKS)}
        if outcome.code != 0:
            self.expected.maybe |= pairs - self.expected.stored  # what rendered before the failure is stored
        else:
            self.expected.stored |= pairs
        if out == self.output:
            self.output_tree = outcome.files
        return outcome

    def no_cache(self, *options: str) -> SynthOutcome:
        self.synths += 1
        return run_synth(self.tmp_path / f"fresh-{self.synths}", *options, "--no-cache")

    def compare(self, env: str, moment: str) -> SynthOutcome:
        """A cached synth of `env` into a new folder against `--no-cache`: the same files and report, or the same
        failure."""
        self.synths += 1
        cached = self.synth(self.tmp_path / f"cached-{self.synths}", "--env", env)
        fresh = self.no_cache("--env", env)
        assert cached == fresh, self.context(f"{moment}: a cached synth of {env} differs from --no-cache")
        return fresh

    def synth_everything(self, moment: str) -> None:
        """A cached synth of every environment into the output folder against `--no-cache`."""
        cached = self.synth(self.output)
        fresh = self.no_cache()
        assert cached.code == 0, self.context(f"{moment}: {cached.report}")
        assert cached == fresh, self.context(f"{moment}: a cached synth of every environment differs from --no-cache")

    # -- what the cache must answer -----------------------------------------------------------------------------

    def check(self, moment: str) -> set[tuple[str, str]]:
        """look_up finds exactly the pairs stored under the current inputs. The pairs found."""
        texts = self.texts()
        cached = render_cache.look_up(texts, rendered_with(STACKS), self.cache, code=self.code, engine=ENGINE)
        for env in ENVIRONMENTS:
            for stack in rendered_with(STACKS):
                pair = (self.code, env, texts[env], stack.name)
                found = (env, stack.name) in cached.found
                if pair in self.expected.stored:
                    self.found_checked += 1
                    assert found, self.context(f"{moment}: {env}/{stack.name} is stored but not found")
                elif pair not in self.expected.maybe:
                    assert not found, self.context(f"{moment}: {env}/{stack.name} found with other inputs")
        return set(cached.found)

    # -- the steps ----------------------------------------------------------------------------------------------

    def settings_step(self, step: int, kind: str, sampled: bool) -> None:
        env = self.rng.choice(ENVIRONMENTS)
        before = self.texts()[env]
        edit = edit_settings(before, kind, self.rng, step)
        assert edit.text != before
        self.history.append(f"step {step}: {env} settings, {kind}: {edit.description}")
        self.write_settings(env, edit.text)
        found = self.check(f"step {step}, after the edit")
        assert not any(pair_env == env for pair_env, _ in found), self.context(f"step {step}: the edit was found")
        if not sampled:
            self.write_settings(env, before)
            self.check(f"step {step}, after undoing it")
            return
        output_before = self.output_tree
        fresh = self.compare(env, f"step {step}")
        if fresh.code != 0:
            self.compared["refused"] += 1
            self.write_settings(env, before)
            self.check(f"step {step}, after undoing the refused edit")
            return
        # Kept: the next edits start from it; the output folder is rendered again, as a user would.
        whole = self.synth(self.output)
        if whole.code != 0:  # valid alone, refused with the others (the fleet): as it is without the cache
            refused = self.no_cache()
            assert (whole.code, whole.report) == (refused.code, refused.report), self.context(f"step {step}")
            self.compared["refused"] += 1
            self.write_settings(env, before)
            self.check(f"step {step}, after undoing the refused edit")
            return
        others = [other for other in ENVIRONMENTS if other != env]
        assert part(whole.files, [env]) == part(fresh.files, [env]), self.context(f"step {step}: the output")
        assert part(whole.files, others) == part(output_before, others), self.context(f"step {step}: the others")
        if part(whole.files, [env]) != part(output_before, [env]):
            self.compared["changed output"] += 1
        self.check(f"step {step}, after rendering it")

    def source_step(self, step: int, kind: str) -> None:
        edit = edit_sources(self.project, kind, self.rng, step)
        self.history.append(f"step {step}: source, {kind}: {edit.description}")
        before = self.code
        self.code = self.code_of_copy()
        assert self.code != before, self.context(f"step {step}: the edit left the code's version as it was")
        found = self.check(f"step {step}, after the edit")
        assert not found, self.context(f"step {step}: pairs found after a source edit: {sorted(found)}")
        edit.undo()
        self.code = self.code_of_copy()
        assert self.code == before, self.context(f"step {step}: undoing the edit did not give the code back")
        self.check(f"step {step}, after undoing it")

    def damage_step(self, step: int, sampled: bool) -> None:
        texts = self.texts()
        env = self.rng.choice(ENVIRONMENTS)
        stored = [
            stack for stack in rendered_with(STACKS) if (self.code, env, texts[env], stack.name) in self.expected.stored
        ]
        assert stored, self.context(f"step {step}: nothing of {env} to damage")  # every step leaves it rendered
        damaged = self.rng.sample(stored, k=min(len(stored), self.rng.randint(1, 3) if sampled else 1))
        cached = render_cache.look_up(texts, damaged, self.cache, code=self.code, engine=ENGINE)
        saved = []
        for stack in damaged:
            damage = self.rng.choice(sorted(DAMAGES))
            self.history.append(f"step {step}: {env}/{stack.name}'s entry damaged: {damage}")
            saved.append(damage_entry(self.cache / f"{cached.keys[env, stack.name]}.json", damage))
            self.expected.stored.discard((self.code, env, texts[env], stack.name))
        found = self.check(f"step {step}, after the damage")
        assert not {(env, stack.name) for stack in damaged} & found, self.context(f"step {step}: a damaged entry hit")
        if sampled:
            self.compared["damaged"] += 1
            assert self.compare(env, f"step {step}").code == 0, self.context(f"step {step}: refused")
        else:
            for entry in saved:
                entry.restore()
            self.expected.stored |= {(self.code, env, texts[env], stack.name) for stack in damaged}
        self.check(f"step {step}, after {'rendering' if sampled else 'restoring'} the entries")

    def plan(self, count: int) -> list[tuple[str, str, bool]]:
        """(family, kind, sampled) for each step: sampled steps are compared with --no-cache by a real synth."""
        steps = []
        for _ in range(count):
            family = self.rng.choices(list(FAMILY_WEIGHTS), weights=list(FAMILY_WEIGHTS.values()))[0]
            kinds = {"settings": list(SETTINGS_WEIGHTS), "source": list(SOURCE_EDITS), "damage": ["damage"]}[family]
            weights = [SETTINGS_WEIGHTS[kind] for kind in kinds] if family == "settings" else None
            steps.append((family, self.rng.choices(kinds, weights=weights)[0], False))
        samples = max(len(FORCED), min(14, count // 15))
        forced = self.rng.sample(FORCED, len(FORCED))
        for index, position in enumerate(sorted(self.rng.sample(range(count), k=min(count, samples)))):
            family, kind, _ = steps[position]
            if index < len(forced):
                family, kind = forced[index]
            elif family == "source":  # a source edit renders nothing new: the copy is not what renders
                family, kind = "settings", "value"
            steps[position] = (family, kind, True)
        return steps


@pytest.mark.slow
def test_random_edits_give_what_no_cache_gives_and_miss_every_pair_they_touch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's differential test. Every step edits, checks what the cache answers (look_up finds exactly the
    pairs whose inputs were rendered before), then undoes the edit and checks again; a sample of steps renders
    instead, cached and not, and must write the same bytes or fail alike. CACHE_EDITS and CACHE_EDITS_SEED change
    the run."""
    run = EditRun(tmp_path, monkeypatch, edits_seed())
    assert set(SETTINGS_WEIGHTS) | {"unknown key"} == set(SETTINGS_EDITS)
    run.synth_everything("the first synth")
    run.check("after the first synth")
    for step, (family, kind, sampled) in enumerate(run.plan(edits_count())):
        try:
            if family == "settings":
                run.settings_step(step, kind, sampled)
            elif family == "source":
                run.source_step(step, kind)
            else:
                run.damage_step(step, sampled)
        except AssertionError:
            raise
        except Exception as error:  # the test's own mistake or the code's crash: replayable too
            error.add_note(run.context(f"step {step} ({family}, {kind})"))
            raise
    run.synth_everything("the last synth")
    run.check("after the last synth")
    if edits_count() >= 100:  # the sample did what it is for
        assert all(run.compared.values()) and run.found_checked > 1000, run.context(f"{run.compared}")


def test_no_cache_never_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Well-formed but false entries under the real keys (a label added to every object): a cached synth takes
    them, `--no-cache` writes the true bytes, over an output folder edited by hand too."""
    environments = copy_environments(tmp_path / "environments")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    truth = run_synth(out, "--env", "dev")
    assert truth.code == 0, truth.report
    texts = {"dev": settings_text(environments / "dev.yaml")}
    code = render_cache.code_version()
    cached = render_cache.look_up(texts, rendered_with(STACKS), tmp_path / "cache", code=code, engine=ENGINE)
    assert set(cached.found) == {("dev", stack.name) for stack in rendered_with(STACKS)}
    for pair, manifests in cached.found.items():
        for manifest in manifests:
            manifest["metadata"].setdefault("labels", {})["planted"] = "yes"
        cached.cache.put(cached.keys[pair], manifests)
    edited = next(path for path in sorted((out / "dev").rglob("*.yaml")))
    edited.write_text("# edited by hand\n")

    planted = run_synth(tmp_path / "planted", "--env", "dev")
    assert planted.code == 0
    assert all(b"planted: " in content for content in planted.files.values() if content is not None)
    assert run_synth(out, "--env", "dev", "--no-cache") == truth
    assert run_synth(tmp_path / "fresh", "--env", "dev", "--no-cache") == truth


def test_a_synth_with_every_pair_cached_starts_no_engine_and_counts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(copy_environments(tmp_path / "environments")))
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    synth = ["synth", "--engine", ENGINE, "--env", "dev", "--stack", "hivemind-bot", "--out"]
    assert main.main([*synth, str(tmp_path / "first")]) == 0
    assert "0 of 2 stacks from the cache" in capsys.readouterr().out
    assert main.main([*synth, str(tmp_path / "no-cache"), "--no-cache"]) == 0
    assert "from the cache" not in capsys.readouterr().out

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("an engine was started with every pair in the cache")

    monkeypatch.setattr(pipeline, "start_engine_of_kind", no_engine)
    assert main.main([*synth, str(tmp_path / "second")]) == 0
    assert "2 of 2 stacks from the cache" in capsys.readouterr().out
    assert tree(tmp_path / "second") == tree(tmp_path / "first") == tree(tmp_path / "no-cache")


def test_a_settings_file_edited_during_a_synth_renders_and_stores_the_text_it_was_keyed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings are validated from the text the keys were made from: an edit landing after the look-up is not
    rendered, and nothing but the old text's objects is stored under the old text's key."""
    environments = copy_environments(tmp_path / "environments")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    settings = environments / "dev.yaml"
    original = settings.read_text()
    data = yaml.safe_load(original)
    data["hivemind_bot"]["image"]["tag"] = "7.7.7"
    edited = yaml.safe_dump(data, sort_keys=False)
    look_up = render_cache.look_up

    def edited_meanwhile(*args: Any, **kwargs: Any) -> render_cache.CachedRenders:
        settings.write_text(edited)
        return look_up(*args, **kwargs)

    stacks = [get_stack("hivemind-bot")]
    options = ["--env", "dev", "--stack", "hivemind-bot"]
    monkeypatch.setattr(render_cache, "look_up", edited_meanwhile)
    during = run_synth(tmp_path / "during", *options)
    monkeypatch.setattr(render_cache, "look_up", look_up)
    settings.write_text(original)
    assert during == run_synth(tmp_path / "original", *options, "--no-cache")
    code = render_cache.code_version()
    kept = look_up({"dev": original}, rendered_with(stacks), tmp_path / "cache", code=code, engine=ENGINE).found
    assert set(kept) == {("dev", "hivemind-bot"), ("dev", "argocd")} and "7.7.7" not in json.dumps(list(kept.values()))
    assert not look_up({"dev": edited}, rendered_with(stacks), tmp_path / "cache", code=code, engine=ENGINE).found
    settings.write_text(edited)
    after = run_synth(tmp_path / "after", *options)
    assert after == run_synth(tmp_path / "after-fresh", *options, "--no-cache")
    assert b"7.7.7" in b"".join(content or b"" for content in after.files.values())
