"""parley_common.config: settings read from the environment, and their refusals."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from parley_common.config import (
    DEV_INTERNAL_TOKEN,
    DEV_JWT_SECRET,
    ConfigError,
    DatabaseSettings,
    InternalApiSettings,
    JwtSettings,
    RedisSettings,
    load_settings,
    load_settings_or_exit,
    normalize_database_url,
)

GOOD_SECRET = "a-long-enough-test-secret-123"
GOOD_TOKEN = "a-long-enough-internal-token-456"
PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nnot checked by the settings\n-----END PUBLIC KEY-----\n"


class ServiceSettings(JwtSettings, DatabaseSettings, InternalApiSettings, RedisSettings):
    """What a service composes out of the shared pieces."""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment, already cleared of every Parley variable (tests/common/conftest.py)."""
    return monkeypatch


@pytest.fixture
def prod_env(env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A complete, valid production environment."""
    env.setenv("DEV_MODE", "false")
    env.setenv("JWT_SECRET", GOOD_SECRET)
    env.setenv("INTERNAL_TOKEN", GOOD_TOKEN)
    return env


def _config_error(cls: type[BaseSettings] = ServiceSettings) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(cls)
    return str(info.value)


# ---- bad values: one readable line naming the variable ------------------------------


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("JWT_ALGORITHMS", "none", "unsupported algorithm"),
        ("JWT_ALGORITHMS", "HS256,foo", "['foo']"),
        ("JWT_ALGORITHMS", "HS256,NONE", "['NONE']"),
        ("JWT_ALGORITHMS", "hs256", "['hs256']"),
        ("JWT_ALGORITHMS", "", "at least one algorithm"),
        ("JWT_ALGORITHMS", " , ", "at least one algorithm"),
        ("PORT", "abc", "integer"),
        ("PORT", "0", "greater than or equal to 1"),
        ("PORT", "65536", "less than or equal to 65535"),
        ("DATABASE_URL", "mysql://x", "postgresql:// or sqlite://"),
        ("DATABASE_URL", "", "postgresql:// or sqlite://"),
        ("DB_POOL_SIZE", "0", "greater than or equal to 1"),
        ("DB_TIMEOUT_S", "0", "greater than 0"),
        ("JWT_LEEWAY_S", "-1", "greater than or equal to 0"),
        ("JWT_LEEWAY_S", "301", "less than or equal to 300"),
        ("REDIS_URL", "http://localhost:6379", "redis://"),
        ("DEV_MODE", "perhaps", "boolean"),
    ],
    ids=[
        "alg-none",
        "alg-unknown",
        "alg-NONE",
        "alg-lowercase",
        "alg-empty",
        "alg-blank-list",
        "port-abc",
        "port-0",
        "port-too-big",
        "db-mysql",
        "db-empty",
        "pool-0",
        "timeout-0",
        "leeway-negative",
        "leeway-too-big",
        "redis-http",
        "dev-mode-perhaps",
    ],
)
def test_bad_value_is_a_config_error_naming_the_variable(
    prod_env: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    prod_env.setenv(name, value)
    message = _config_error()
    assert message.startswith("Invalid configuration:")
    line = next(line for line in message.splitlines() if name in line)
    assert line.strip().startswith(f"{name}: ")
    assert says in line


def test_every_bad_variable_is_reported_at_once(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("PORT", "abc")
    prod_env.setenv("DATABASE_URL", "mysql://x")
    message = _config_error()
    assert "PORT: " in message
    assert "DATABASE_URL: " in message


def test_load_settings_or_exit_prints_and_exits_2(
    prod_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prod_env.setenv("PORT", "abc")
    with pytest.raises(SystemExit) as info:
        load_settings_or_exit(ServiceSettings)
    assert info.value.code == 2
    assert "PORT: " in capsys.readouterr().err


def test_direct_construction_raises_validation_error() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        JwtSettings(dev_mode=False, jwt_algorithms=["HS256"])


# ---- secrets outside and inside DEV_MODE ---------------------------------------------


def test_valid_production_environment(prod_env: pytest.MonkeyPatch) -> None:
    settings = load_settings(ServiceSettings)
    assert settings.dev_mode is False
    assert settings.jwt_secret == SecretStr(GOOD_SECRET)
    assert settings.internal_token_value == GOOD_TOKEN
    assert settings.jwt_algorithms == ["HS256"]
    assert (settings.port, settings.host, settings.jwt_leeway_s) == (8000, "0.0.0.0", 0)
    assert settings.database_url == "sqlite+aiosqlite:///./var/parley.db"
    assert settings.redis_url is None


@pytest.mark.parametrize("name", ["JWT_SECRET", "INTERNAL_TOKEN"])
def test_secrets_are_required_outside_dev_mode(prod_env: pytest.MonkeyPatch, name: str) -> None:
    prod_env.delenv(name)
    message = _config_error()
    assert f"{name} is required" in message


def test_dev_mode_defaults_to_false(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.delenv("DEV_MODE")
    prod_env.delenv("JWT_SECRET")
    assert "JWT_SECRET is required" in _config_error()


@pytest.mark.parametrize("name", ["JWT_SECRET", "INTERNAL_TOKEN"])
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (DEV_JWT_SECRET, "placeholder"),
        (DEV_INTERNAL_TOKEN, "placeholder"),
        ("secret", "placeholder"),
        ("changeme", "placeholder"),
        ("CHANGE-ME", "placeholder"),
        ("test", "placeholder"),
        ("fifteen-chars!!", "at least 16 characters"),
        ("", "at least 16 characters"),
    ],
    ids=["dev-secret", "dev-internal-token", "secret", "changeme", "CHANGE-ME", "test", "15-chars", "empty"],
)
def test_weak_secrets_are_refused_outside_dev_mode(
    prod_env: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    prod_env.setenv(name, value)
    message = _config_error()
    assert name in message
    assert says in message


def test_sixteen_characters_are_enough(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("JWT_SECRET", "x" * 16)
    prod_env.setenv("INTERNAL_TOKEN", "y" * 16)
    settings = load_settings(ServiceSettings)
    assert settings.jwt_secret == SecretStr("x" * 16)
    assert settings.internal_token_value == "y" * 16


def test_dev_mode_defaults_the_secrets(env: pytest.MonkeyPatch) -> None:
    env.setenv("DEV_MODE", "true")
    settings = load_settings(ServiceSettings)
    assert settings.dev_mode is True
    assert settings.jwt_secret == SecretStr(DEV_JWT_SECRET)
    assert settings.internal_token_value == DEV_INTERNAL_TOKEN


def test_dev_mode_accepts_weak_secrets(env: pytest.MonkeyPatch) -> None:
    env.setenv("DEV_MODE", "1")
    env.setenv("JWT_SECRET", "changeme")
    env.setenv("INTERNAL_TOKEN", "test")
    settings = load_settings(ServiceSettings)
    assert settings.jwt_secret == SecretStr("changeme")
    assert settings.internal_token_value == "test"


def test_secrets_do_not_leak_into_repr(prod_env: pytest.MonkeyPatch) -> None:
    settings = load_settings(ServiceSettings)
    assert GOOD_SECRET not in repr(settings)
    assert GOOD_TOKEN not in repr(settings)


def test_overrides_win_over_the_environment(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("PORT", "abc")
    assert load_settings(ServiceSettings, port=9001).port == 9001


def test_environment_names_are_case_insensitive(env: pytest.MonkeyPatch) -> None:
    env.setenv("dev_mode", "true")
    env.setenv("port", "9002")
    assert load_settings(ServiceSettings).port == 9002


# ---- JWT_ALGORITHMS and keys ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("HS256", ["HS256"]),
        ("HS256,HS512", ["HS256", "HS512"]),
        (" HS384 , HS256 ,", ["HS384", "HS256"]),
        ("RS256,HS256", ["RS256", "HS256"]),
    ],
    ids=["one", "two", "spaces-and-trailing-comma", "rs-and-hs"],
)
def test_jwt_algorithms_are_comma_separated(
    prod_env: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    prod_env.setenv("JWT_ALGORITHMS", value)
    prod_env.setenv("JWT_PUBLIC_KEY", PUBLIC_KEY)
    assert load_settings(ServiceSettings).jwt_algorithms == expected


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_public_key_algorithms_need_jwt_public_key(prod_env: pytest.MonkeyPatch, algorithm: str) -> None:
    prod_env.setenv("JWT_ALGORITHMS", algorithm)
    assert "JWT_PUBLIC_KEY is required" in _config_error()
    prod_env.setenv("JWT_PUBLIC_KEY", PUBLIC_KEY)
    assert load_settings(ServiceSettings).jwt_public_key == PUBLIC_KEY


def test_public_key_algorithms_need_the_key_in_dev_mode_too(env: pytest.MonkeyPatch) -> None:
    env.setenv("DEV_MODE", "true")
    env.setenv("JWT_ALGORITHMS", "RS256")
    assert "JWT_PUBLIC_KEY is required" in _config_error()


def test_rs256_only_needs_no_jwt_secret(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.delenv("JWT_SECRET")
    prod_env.setenv("JWT_ALGORITHMS", "RS256")
    prod_env.setenv("JWT_PUBLIC_KEY", PUBLIC_KEY)
    settings = load_settings(ServiceSettings)
    assert settings.jwt_secret is None


def test_jwt_algorithms_given_as_a_list() -> None:
    settings = JwtSettings(dev_mode=False, jwt_secret=GOOD_SECRET, jwt_algorithms=["HS512"])
    assert settings.jwt_algorithms == ["HS512"]
    with pytest.raises(ValidationError, match="unsupported algorithm"):
        JwtSettings(dev_mode=False, jwt_secret=GOOD_SECRET, jwt_algorithms=["none"])


def test_issuer_audience_and_leeway(prod_env: pytest.MonkeyPatch) -> None:
    prod_env.setenv("JWT_ISSUER", "https://auth.test")
    prod_env.setenv("JWT_AUDIENCE", "parley")
    prod_env.setenv("JWT_LEEWAY_S", "10")
    settings = load_settings(ServiceSettings)
    assert (settings.jwt_issuer, settings.jwt_audience, settings.jwt_leeway_s) == (
        "https://auth.test",
        "parley",
        10,
    )


# ---- database and redis URLs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/parley", "postgresql+asyncpg://u:p@db:5432/parley"),
        ("postgres://u@db/parley", "postgresql+asyncpg://u@db/parley"),
        ("postgresql+asyncpg://u@db/parley", "postgresql+asyncpg://u@db/parley"),
        ("sqlite:///./var/x.db", "sqlite+aiosqlite:///./var/x.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
    ],
    ids=["postgresql", "postgres", "asyncpg-kept", "sqlite-file", "sqlite-memory", "aiosqlite-kept"],
)
def test_normalize_database_url(env: pytest.MonkeyPatch, url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected
    env.setenv("DATABASE_URL", url)
    assert load_settings(DatabaseSettings).database_url == expected


@pytest.mark.parametrize(
    "url", ["mysql://x", "postgresql+psycopg2://u@db/p", "sqlite+pysqlite:///x.db", "", "db.sqlite"]
)
def test_normalize_database_url_refuses_other_drivers(url: str) -> None:
    with pytest.raises(ValueError, match="postgresql:// or sqlite://"):
        normalize_database_url(url)


@pytest.mark.parametrize("url", ["redis://r:6379/0", "rediss://r:6380/1", "unix:///run/redis.sock"])
def test_redis_url_schemes(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("REDIS_URL", url)
    assert load_settings(RedisSettings).redis_url == url


def test_empty_redis_url_means_unset(env: pytest.MonkeyPatch) -> None:
    env.setenv("REDIS_URL", "")
    assert load_settings(RedisSettings).redis_url is None


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("", "needs REDIS_URL"),
        ("unix:///run/redis.sock", "over TCP"),
        ("redis://r:6379/2", "database 0 only"),
    ],
)
def test_a_redis_cluster_needs_a_tcp_url_on_database_0(env: pytest.MonkeyPatch, url: str, error: str) -> None:
    env.setenv("REDIS_CLUSTER", "true")
    env.setenv("REDIS_URL", url)
    assert error in _config_error(RedisSettings)


@pytest.mark.parametrize(
    "url", ["redis://r:6379", "redis://r:6379/", "redis://r:6379/0", "rediss://u:p@r:6380/0"]
)
def test_a_redis_cluster_url_names_any_node(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("REDIS_CLUSTER", "true")
    env.setenv("REDIS_URL", url)
    assert load_settings(RedisSettings).redis_cluster


def test_sentinels_name_the_master_instead_of_a_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("REDIS_SENTINELS", "s0:26379, s1:26379,")
    env.setenv("REDIS_SENTINEL_MASTER", "parley")
    settings = load_settings(RedisSettings)
    assert settings.redis_sentinels == ["s0:26379", "s1:26379"]
    assert settings.uses_redis and settings.redis_url is None


@pytest.mark.parametrize(
    ("variables", "error"),
    [
        ({"REDIS_SENTINELS": "s0:26379"}, "needs REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": "s0", "REDIS_SENTINEL_MASTER": "m"}, "host:port"),
        ({"REDIS_SENTINELS": "s0:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "redis://r"}, "not both"),
        (
            {"REDIS_SENTINELS": "s0:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_CLUSTER": "true"},
            "REDIS_CLUSTER",
        ),
        ({"REDIS_SENTINEL_MASTER": "m"}, "needs REDIS_SENTINELS"),
    ],
)
def test_sentinel_settings_are_checked_at_start(
    env: pytest.MonkeyPatch, variables: dict[str, str], error: str
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    assert error in _config_error(RedisSettings)


def test_bus_routing_is_rooms_or_single(env: pytest.MonkeyPatch) -> None:
    assert load_settings(RedisSettings).router().per_room
    env.setenv("BUS_ROUTING", "single")
    assert not load_settings(RedisSettings).router().per_room
    env.setenv("BUS_ROUTING", "everywhere")
    assert "BUS_ROUTING" in _config_error(RedisSettings)


def test_pieces_load_alone(env: pytest.MonkeyPatch) -> None:
    env.setenv("INTERNAL_TOKEN", GOOD_TOKEN)
    assert load_settings(InternalApiSettings).internal_token_value == GOOD_TOKEN
    assert load_settings(DatabaseSettings).db_pool_size == 20
    assert "JWT_SECRET is required" in _config_error(JwtSettings)
