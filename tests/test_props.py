"""same_named: the props a construct or stack passes on under the same names, and only those."""

from __future__ import annotations

from dataclasses import dataclass

from constructs_lib.props import same_named


@dataclass(frozen=True, kw_only=True)
class Target:
    name: str
    port: int
    env: dict[str, str]
    expose: bool = True


@dataclass(frozen=True, kw_only=True)
class Source:
    name: str
    port: int
    env: dict[str, str]
    redis: str


def test_takes_the_fields_of_the_same_name_but_those_set_besides() -> None:
    source = Source(name="bot", port=8080, env={"A": "1"}, redis="redis")
    # `redis` is no field of Target, `expose` none of Source, `env` the caller derives itself.
    assert same_named(source, Target, besides=("env",)) == {"name": "bot", "port": 8080}
    assert Target(**same_named(source, Target)) == Target(name="bot", port=8080, env={"A": "1"})
