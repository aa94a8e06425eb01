"""Settings from the environment, with defaults that work on a developer's machine."""

import argparse
import dataclasses
import logging
import os
import typing
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Self, TypeVar

Loaded = TypeVar("Loaded")
Number = TypeVar("Number", int, float)
log = logging.getLogger(__name__)

LOCAL_KAFKA = "127.0.0.1:9092"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5433"


def env_str(name: str, default: str) -> str:
    """The variable's value, or the default when unset or empty."""
    return os.environ.get(name) or default


def env_int(name: str, default: int) -> int:
    """The variable as an integer; a clear error naming it when it is not one."""
    raw = os.environ.get(name)
    return parse_variable(name, raw, parse_int) if raw else default


def kafka_bootstrap_servers() -> str:
    """Where the Kafka cluster is: KAFKA_BOOTSTRAP_SERVERS (comma-separated host:port)."""
    return env_str("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)


def add_bootstrap_servers_option(parser: argparse.ArgumentParser) -> None:
    """The operator tools' --bootstrap-servers, KAFKA_BOOTSTRAP_SERVERS by default."""
    parser.add_argument(
        "--bootstrap-servers",
        default=kafka_bootstrap_servers(),
        help="the Kafka cluster (KAFKA_BOOTSTRAP_SERVERS; default: %(default)s)",
    )


def database_url(service: str) -> str:
    """The service's own database: <SERVICE>_DATABASE_URL, else that database on the local server."""
    return local_database(f"{service.upper()}_DATABASE_URL")


DEVELOPMENT = "development"
MIN_KEY_BYTES = 32
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
BASE64_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")


class InsecureKey(ValueError):
    """A secret key is missing, a development value, or too weak, outside development."""


class SettingError(ValueError):
    """A variable whose value cannot be read: the message names the variable."""


def in_development() -> bool:
    """True when ACCOUNTS_ENV=development: the only place built-in development keys are allowed."""
    return os.environ.get("ACCOUNTS_ENV", "").strip().lower() == DEVELOPMENT


def key_strength_bytes(key: str) -> int:
    """A cautious estimate of the key's entropy in bytes, from its alphabet (hex, base64 or text)."""
    if len(set(key)) < 8:
        return 0  # "aaaa…" or "0101…": long, but nobody's secret
    if set(key) <= HEX_DIGITS:
        return len(key) // 2
    if set(key) <= BASE64_CHARACTERS:
        return len(key.rstrip("=")) * 6 // 8
    return len(key.encode()) // 2  # free text: count half a byte of entropy per byte, at best


def secret_key(name: str, development_value: str) -> str:
    """The secret in variable `name`.

    Outside development (ACCOUNTS_ENV != development) a missing key, the built-in development value
    or a key of less than 32 bytes of entropy is refused with InsecureKey, so no service starts on it.
    """
    raw = os.environ.get(name, "").strip()
    if in_development():
        return raw or development_value
    if not raw:
        raise InsecureKey(
            f"{name} is not set (only ACCOUNTS_ENV=development may use a built-in development key)"
        )
    if development_value and development_value in raw:
        raise InsecureKey(f"{name} holds the built-in development key; set a real secret")
    if key_strength_bytes(raw) < MIN_KEY_BYTES:
        raise InsecureKey(
            f"{name} is too weak: at least {MIN_KEY_BYTES} random bytes are needed "
            "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return raw


def load_settings(service: str, load: Callable[[], Loaded]) -> Loaded:
    """`load()`, or exit with a clear message and a non-zero status when it refuses an insecure key
    or a value it cannot read."""
    try:
        return load()
    except (InsecureKey, SettingError) as error:
        raise SystemExit(f"{service}: refusing to start: {error}") from None


# Variables under a service's prefix that something else reads: other services (identity's keys
# URL, the portal's public address), deploy/local/run.sh (the ports behind its proxy), a benchmark.
READ_ELSEWHERE = frozenset(
    {"IDENTITY_JWKS_URL", "PORTAL_URL", "CATALOGUE_S3_BENCH_MB"}
    | {f"{service}_INTERNAL_PORT" for service in ("IDENTITY", "MAILER", "CATALOGUE", "NEWSLETTER", "PORTAL")}
)


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = dataclasses.MISSING,
    env: str | None = None,
    parse: Callable[[str], Any] | None = None,
    read: Callable[[str], Any] | None = None,
    kw_only: bool = False,
) -> Any:
    """A settings field: its default (none: required), the variable when it is not <PREFIX>_<FIELD>
    (`env`), how its text becomes a value (`parse`; else by the field's type), or how the variable is
    read whole (`read(variable)`: keys, and values whose default depends on more than a constant).
    `kw_only`: a base class's field with a default that its subclasses' required fields may follow."""
    metadata = {"env": env, "parse": parse, "read": read}
    return dataclasses.field(default=default, default_factory=factory, metadata=metadata, kw_only=kw_only)


def secret_setting(development_value: str, *, convert: Callable[[str], Any] = str.encode) -> Any:
    """A secret key (see secret_key for the rules), required when the settings are built by hand."""
    return setting(read=lambda variable: convert(secret_key(variable, development_value)))


def without_trailing_slash(url: str) -> str:
    """A base URL to append paths to."""
    return url.rstrip("/")


def parse_bool(text: str) -> bool:
    """true/false, 1/0, yes/no."""
    value = text.strip().lower()
    if value not in ("true", "1", "yes", "false", "0", "no"):
        raise ValueError(f"must be true or false, got {text!r}")
    return value in ("true", "1", "yes")


def parse_int(text: str) -> int:
    """An integer."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"must be an integer, got {text!r}") from None


def parse_float(text: str) -> float:
    """A number."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"must be a number, got {text!r}") from None


def at_least(minimum: Number, number: Callable[[str], Number] = parse_int) -> Callable[[str], Number]:
    """A parser of numbers (integers unless `number` says otherwise) no smaller than `minimum`."""

    def parse(text: str) -> Number:
        value = number(text)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse


PARSERS: dict[Any, Callable[[str], Any]] = {str: str, int: parse_int, float: parse_float, bool: parse_bool}


def parser_for(kind: Any) -> Callable[[str], Any]:
    """How a field of type `kind` is read from text: a plain type, or a class with a `parse(text)`."""
    if kind in PARSERS:
        return PARSERS[kind]
    if callable(getattr(kind, "parse", None)):
        return typing.cast(Callable[[str], Any], kind.parse)
    raise TypeError(f"no parser for settings of type {kind!r}: give the field a parse=")


class FromEnvironment:
    """Mixin of a settings dataclass read from <env_prefix>_<FIELD> variables (see load_from_env)."""

    env_prefix: ClassVar[str]

    @classmethod
    def from_env(cls) -> Self:
        """The settings from the environment; unknown <PREFIX>_* variables are logged as warnings."""
        return load_from_env(cls, cls.env_prefix)

    @classmethod
    def load(cls) -> Self:
        """`from_env()` as a process starting wants it: a refused value exits with a clear message."""
        return load_settings(cls.env_prefix.lower(), cls.from_env)

    @classmethod
    def variables(cls) -> set[str]:
        """Every variable the settings read."""
        return variables_of(cls, cls.env_prefix)

    @classmethod
    def variable(cls, name: str) -> str:
        """The variable field `name` is read from."""
        fields = dataclasses.fields(typing.cast(Any, cls))
        return variable_name(next(item for item in fields if item.name == name), cls.env_prefix)


def local_database(variable: str) -> str:
    """<SERVICE>_DATABASE_URL when set, else the database named after the service on the local server."""
    return env_str(variable, f"{LOCAL_POSTGRES}/{variable.removesuffix('_DATABASE_URL').lower()}")


# How long a statement of a web request may wait for a lock, and run, in milliseconds (0: no limit).
# Behind a migration's ALTER TABLE or a chore's long transaction a request otherwise waits until
# gunicorn kills its worker (nginx answers 502); bounded, it answers 503 with Retry-After in seconds.
# Waits past the lock timeout are rare enough (a deploy, a stuck transaction) to be worth a retry; no
# request's statement takes a second in the benchmarks, so five is far from a slow but normal one.
REQUEST_LOCK_TIMEOUT_MS = 2_000
REQUEST_STATEMENT_TIMEOUT_MS = 5_000


@dataclasses.dataclass(frozen=True)
class ServiceSettings(FromEnvironment):
    """What every service with a database is told first: where its database and the Kafka cluster are,
    and how long its web requests' statements may wait for a lock and run (see db.request_pool)."""

    database_url: str = setting(read=local_database)
    kafka_bootstrap_servers: str = setting(
        env="KAFKA_BOOTSTRAP_SERVERS", read=lambda variable: env_str(variable, LOCAL_KAFKA)
    )
    request_lock_timeout_ms: int = setting(REQUEST_LOCK_TIMEOUT_MS, parse=at_least(0), kw_only=True)
    request_statement_timeout_ms: int = setting(REQUEST_STATEMENT_TIMEOUT_MS, parse=at_least(0), kw_only=True)


def variable_name(item: dataclasses.Field[Any], prefix: str) -> str:
    """The field's own variable (its `env`), else <PREFIX>_<FIELD>."""
    return item.metadata.get("env") or f"{prefix}_{item.name.upper()}"


def load_from_env(cls: type[Loaded], prefix: str, *, warn_unknown: bool = True) -> Loaded:
    """A settings dataclass from the environment: each field from its variable when set (an empty
    value counts as unset), else its default; a nested dataclass from <PREFIX>_<FIELD>_* (or its `env`).

    A value that does not parse raises SettingError naming the variable. Variables that start with
    <PREFIX>_ and that no field reads are logged as a warning: a misspelt name is not silently ignored.
    """
    values = read_fields(cls, prefix)
    if warn_unknown:
        warn_about_unknown(prefix, variables_of(cls, prefix))
    return cls(**values)


def read_fields(cls: type[Any], prefix: str) -> dict[str, Any]:
    """The values of the fields whose variables are set (or that are read whole)."""
    kinds = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        variable, kind = variable_name(item, prefix), kinds[item.name]
        if is_group(item, kind):
            values[item.name] = kind(**read_fields(kind, variable))
        elif read := item.metadata.get("read"):
            values[item.name] = read(variable)
        elif raw := os.environ.get(variable):
            values[item.name] = parse_variable(variable, raw, item.metadata.get("parse") or parser_for(kind))
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise SettingError(f"{variable} is not set")
    return values


def variables_of(cls: type[Any], prefix: str) -> set[str]:
    """Every variable the settings dataclass reads."""
    kinds = typing.get_type_hints(cls)
    names: set[str] = set()
    for item in dataclasses.fields(cls):
        variable = variable_name(item, prefix)
        names |= variables_of(kinds[item.name], variable) if is_group(item, kinds[item.name]) else {variable}
    return names


def is_group(item: dataclasses.Field[Any], kind: Any) -> bool:
    """A field that is a dataclass of settings of its own (read from <PREFIX>_<FIELD>_*), not a value
    parsed from one variable."""
    plain = item.metadata.get("read") or item.metadata.get("parse") or callable(getattr(kind, "parse", None))
    return dataclasses.is_dataclass(kind) and not plain


def parse_variable(variable: str, raw: str, parse: Callable[[str], Any]) -> Any:
    """`parse(raw)`, or a SettingError that names the variable."""
    try:
        return parse(raw)
    except ValueError as error:
        message = str(error)
        raise SettingError(message if variable in message else f"{variable}: {message}") from None


def warn_about_unknown(prefix: str, known: Iterable[str]) -> None:
    """Log the <PREFIX>_* variables nothing reads (a typo, or a setting that no longer exists)."""
    unknown = sorted(
        name for name in os.environ if name.startswith(f"{prefix}_") and name not in {*known, *READ_ELSEWHERE}
    )
    if unknown:
        log.warning("unknown %s_* variable(s), ignored: %s", prefix, ", ".join(unknown))
