"""`promote` and `set-image`: image tags moved between settings files, only the tag lines changed, every bad input
refused with one message and nothing written. In-process, on copies of the environment files."""

from __future__ import annotations

import difflib
import io
import shutil
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

import main
from delivery.pod_templates import pod_template_of
from delivery.promote import PromoteError, plan_promotion, plan_set_image, stack_images
from engine import RenderedEnvironment
from environment_model.paths import ENVIRONMENTS_DIR
from environment_model.registry import STACKS
from environment_model.settings import load_environment
from tests.conftest import containers


@pytest.fixture
def environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of environments/ that the commands read and write (ENVIRONMENTS_DIR)."""
    folder = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS_DIR, folder)
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(folder))
    # The diff they show renders in this process (cdk8s is loaded here already), not in cold render workers.
    monkeypatch.setattr(main, "DEFAULT_ENGINE", "plain")
    return folder


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(old line, new line) of each line an edit replaced; fails if it added or removed lines."""
    pairs: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines()).get_opcodes():
        if tag == "equal":
            continue
        assert tag == "replace" and i2 - i1 == j2 - j1, f"lines added or removed: {before.splitlines()[i1:i2]}"
        pairs += zip(before.splitlines()[i1:i2], after.splitlines()[j1:j2], strict=True)
    return pairs


def tags(folder: Path, env: str, stack: str) -> dict[str, str]:
    data = yaml.safe_load((folder / f"{env}.yaml").read_text(encoding="utf-8"))
    section = data[stack.replace("-", "_")]
    return {name: part["image"]["tag"] for name, part in section.items() if isinstance(part, dict) and "image" in part}


def test_promote_copies_every_tag_shows_the_diff_and_changes_only_the_tag_lines(
    environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prod = environments / "prod.yaml"
    before = prod.read_text(encoding="utf-8")
    staging_tags = tags(environments, "staging", "verta")
    assert staging_tags != tags(environments, "prod", "verta")  # the premise: staging is ahead

    assert main.main(["promote", "verta", "--from", "staging", "--to", "prod", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert prod.read_text(encoding="utf-8") == before
    assert out.rstrip().endswith("dry run: nothing was written to " + str(prod))
    # The reviewer's diff of prod's verta stack, rendered from the edited settings.
    assert "prod.verta.ml.image.tag 0.8.2 -> 0.9.0 (ghcr.io/niekcandaele/verta-ml)" in out
    assert (
        "spec.template.spec.containers[verta-ml].image: ghcr.io/niekcandaele/verta-ml:0.8.2 -> "
        "ghcr.io/niekcandaele/verta-ml:0.9.0" in out
    )
    assert "prod/verta/deployment-verta-backend.yaml" in out and "staging/" not in out and "prod/kairoflow" not in out

    plan_promotion("verta", "staging", "prod").write()  # what the command does after the diff, as below
    after = prod.read_text(encoding="utf-8")
    assert tags(environments, "prod", "verta") == staging_tags
    # Only the three tag values changed; quoting, flow style, key order and comments are as they were.
    replaced = changed_lines(before, after)
    assert len(replaced) == 3
    for old, new in replaced:
        assert old.replace('tag: "0.8.2"', 'tag: "0.9.0"') == new
    assert [line for line in before.splitlines() if "#" in line] == [line for line in after.splitlines() if "#" in line]
    # A second promote finds nothing to do and writes nothing.
    assert main.main(["promote", "verta", "--from", "staging", "--to", "prod"]) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert prod.read_text(encoding="utf-8") == after


def test_set_image_sets_one_tag_keeping_its_quoting(environments: Path) -> None:
    dev = environments / "dev.yaml"
    before = dev.read_text(encoding="utf-8")
    edit = plan_set_image("kairoflow", "sha-9b8c7d6", "dev", "php")
    edit.write()
    assert changed_lines(before, dev.read_text(encoding="utf-8")) == [
        (
            '    image: {repository: ghcr.io/example-org/kairoflow/php, tag: "sha-4e1f0c2", pull_policy: IfNotPresent}',
            '    image: {repository: ghcr.io/example-org/kairoflow/php, tag: "sha-9b8c7d6", pull_policy: IfNotPresent}',
        )
    ]
    assert load_environment("dev").kairoflow.php.image.tag == "sha-9b8c7d6"


def test_set_image_on_the_command_line_of_a_stack_with_one_image(
    environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(["set-image", "core-pipeline", "sha-1a2b3c4", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("/dev.yaml; run `make synth` to render it into dist/")
    assert "dev.core_pipeline.image.tag 1.4.0 -> sha-1a2b3c4" in out
    assert "ghcr.io/example-org/core-pipeline:1.4.0 -> ghcr.io/example-org/core-pipeline:sha-1a2b3c4" in out
    assert 'tag: "sha-1a2b3c4"' in (environments / "dev.yaml").read_text(encoding="utf-8")


def test_an_image_the_file_leaves_to_its_default_is_written_out(environments: Path) -> None:
    """Staging's discord-monitor Redis uses the default image: setting its tag spells out repository and tag."""
    edit = plan_set_image("discord-monitor", "7.2.6-alpine", "staging", "redis")
    edit.write()
    redis = load_environment("staging").discord_monitor.redis
    assert redis.mode == "in_cluster" and (redis.image.repository, redis.image.tag) == ("redis", "7.2.6-alpine")


BAD_INPUT = [
    (["promote", "nope", "--from", "staging", "--to", "prod"], "no stack 'nope'; the stacks are core-pipeline"),
    (["promote", "verta", "--from", "qa", "--to", "prod"], "no environment 'qa'"),
    (["promote", "verta", "--from", "staging", "--to", "prd"], "the environments are dev, prod, staging"),
    (["promote", "verta", "--from", "prod", "--to", "prod"], "--from and --to are both 'prod'"),
    (["set-image", "verta", "1.0.0", "--env", "dev"], "verta has 4 images in dev; name one with --image: backend"),
    (["set-image", "verta", "1.0.0", "--env", "dev", "--image", "db"], "verta has no image 'db' in dev"),
    (["set-image", "verta", "latest", "--env", "dev", "--image", "ml"], "tag 'latest' moves to new builds"),
    (["set-image", "hivemind-bot", "Nightly", "--env", "prod"], "tag 'Nightly' moves to new builds"),
    (["set-image", "hivemind-bot", "2.0 beta", "--env", "prod"], "hivemind_bot.image.tag: must be an image tag"),
    (["set-image", "hivemind-bot", ".x", "--env", "prod"], "must be an image tag"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[" ".join(argv) for argv, _ in BAD_INPUT])
def test_bad_input_is_one_message_exit_2_and_nothing_written(
    environments: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    before = {path.name: path.read_bytes() for path in environments.iterdir()}
    assert main.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert {path.name: path.read_bytes() for path in environments.iterdir()} == before


def test_promote_refuses_tags_of_another_repository(environments: Path) -> None:
    staging = environments / "staging.yaml"
    staging.write_text(
        staging.read_text(encoding="utf-8").replace("ghcr.io/example-org/hivemind-bot", "ghcr.io/fork/hivemind-bot"),
        encoding="utf-8",
    )
    with pytest.raises(
        PromoteError, match=r"ghcr\.io/fork/hivemind-bot but prod's is ghcr\.io/example-org/hivemind-bot"
    ):
        plan_promotion("hivemind-bot", "staging", "prod")


def test_an_invalid_source_environment_is_named(environments: Path) -> None:
    staging = environments / "staging.yaml"
    staging.write_text(staging.read_text(encoding="utf-8") + "surprise: 1\n", encoding="utf-8")
    with pytest.raises(PromoteError, match=r"(?s)staging's settings must be valid.*staging.surprise: unknown key"):
        plan_promotion("verta", "staging", "prod")


def test_a_file_changed_meanwhile_is_not_overwritten(environments: Path) -> None:
    edit = plan_set_image("hivemind-bot", "2.0.4", "prod")
    prod = environments / "prod.yaml"
    meanwhile = prod.read_text(encoding="utf-8").replace("replicas: 3", "replicas: 4")
    prod.write_text(meanwhile, encoding="utf-8")
    with pytest.raises(PromoteError, match="changed while this ran; nothing was written"):
        edit.write()
    assert prod.read_text(encoding="utf-8") == meanwhile
    assert [path.name for path in environments.iterdir() if path.name.startswith(".")] == []


def test_another_list_indentation_is_kept(environments: Path) -> None:
    """A file whose list items sit at their key's indentation (the other common style) is edited in that style."""
    prod = environments / "prod.yaml"
    # Every list of the file in that style (kafka's brokers, the Argo CD roles and sync windows), as ruamel writes it.
    flush_writer = YAML()
    flush_writer.preserve_quotes = True
    flush_writer.width = 4096
    flush_writer.indent(mapping=2, sequence=2, offset=0)
    text = io.StringIO()
    flush_writer.dump(flush_writer.load(prod.read_text(encoding="utf-8")), text)
    flush = text.getvalue()
    assert "\n    - kafka-" in flush and flush != prod.read_text(encoding="utf-8")
    prod.write_text(flush, encoding="utf-8")
    plan_set_image("core-pipeline", "1.3.3", "prod").write()
    assert changed_lines(flush, prod.read_text(encoding="utf-8")) == [('    tag: "1.3.2"', '    tag: "1.3.3"')]


def test_a_layout_the_round_trip_would_change_is_refused(environments: Path) -> None:
    prod = environments / "prod.yaml"
    odd = prod.read_text(encoding="utf-8").replace("core_pipeline:\n  image:", "core_pipeline:\n  image:   ")
    prod.write_text(odd, encoding="utf-8")
    with pytest.raises(PromoteError, match=r"layout .* could not be kept by an automatic edit"):
        plan_set_image("core-pipeline", "1.3.3", "prod")
    assert prod.read_text(encoding="utf-8") == odd


@pytest.mark.parametrize("env", ["dev", "staging", "prod", "test"])
def test_the_images_promote_moves_are_every_image_the_stacks_render(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    """promote finds its images in the settings models; each rendered container's image is one of them, and
    each image setting renders (no image escapes promotion, none is promoted for nothing): in dev, staging and prod
    the core-pipeline hooks are off and their images are not offered; in test they are on and are."""
    settings = load_environment(env)
    for stack in STACKS:
        settings_images = {f"{image.repository}:{image.tag}" for image in stack_images(settings, stack)}
        rendered_images = {
            container["image"]
            for manifest in rendered[env][stack.name]
            if pod_template_of(manifest) is not None
            for container in containers(manifest)
        }
        assert rendered_images == settings_images, stack.name


def test_an_image_the_target_does_not_have_is_named_and_the_rest_promoted(environments: Path) -> None:
    """Prod's discord-monitor Redis is external (no image): promote copies the other tags and says so."""
    prod = environments / "prod.yaml"
    in_cluster = (
        "  redis:\n    mode: in_cluster\n    password: {secret: discord-bot-redis, key: redis-password}\n"
        "    storage_size: 10Gi\n    resources:\n      requests: {cpu: 100m, memory: 256Mi}\n"
        "      limits: {cpu: 500m, memory: 512Mi}\n"
    )
    external = "  redis:\n    mode: external\n    host: redis.data.svc.cluster.local\n"
    external += "    password: {secret: discord-bot-redis, key: redis-password}\n"
    assert in_cluster in prod.read_text(encoding="utf-8")
    prod.write_text(prod.read_text(encoding="utf-8").replace(in_cluster, external), encoding="utf-8")
    edit = plan_promotion("discord-monitor", "staging", "prod")
    assert edit.missing == ("discord_monitor.redis.image",)
    assert "note: prod has no discord_monitor.redis.image; left as it is" in edit.describe()
    assert {change.image.name: change.new_tag for change in edit.changes} == {
        "bot": "0.9.0",
        "example_job": "0.3.1",
    }
