"""Settings models to construct props: the one place every stack turns its typed settings into constructs' inputs."""

from __future__ import annotations

from constructs_lib import HttpProbe, RedisEndpoint, RedisProps, SecretKeyRef
from value_types.workloads import (
    ExternalRedisSettings,
    HttpProbeSettings,
    InClusterRedisSettings,
    SecretKey,
)


def secret_env(env_name: str, key: SecretKey) -> SecretKeyRef:
    return SecretKeyRef(env_name=env_name, secret_name=key.secret, key=key.key)


def http_probe(settings: HttpProbeSettings, port: int | str = "http") -> HttpProbe:
    return HttpProbe.from_settings(settings, port)


def redis(
    settings: InClusterRedisSettings | ExternalRedisSettings, *, name: str, part_of: str
) -> RedisProps | RedisEndpoint:
    """Props for an in-cluster `Redis` named `name`, or the endpoint of the external one."""
    if isinstance(settings, ExternalRedisSettings):
        return RedisEndpoint(
            host=settings.host,
            port=settings.port,
            password_secret=settings.password.secret,
            password_key=settings.password.key,
        )
    return RedisProps(
        name=name,
        part_of=part_of,
        image=settings.image,
        resources=settings.resources,
        password_secret=settings.password.secret,
        password_key=settings.password.key,
        storage_size=settings.storage_size,
        storage_class=settings.storage_class,
    )
