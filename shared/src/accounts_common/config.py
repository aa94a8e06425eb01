"""Settings from the environment, with defaults that work on a developer's machine."""

import os
from collections.abc import Callable
from typing import TypeVar

Loaded = TypeVar("Loaded")

LOCAL_KAFKA = "127.0.0.1:9092"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5433"


def env_str(name: str, default: str) -> str:
    """The variable's value, or the default when unset or empty."""
    return os.environ.get(name) or default


def env_int(name: str, default: int) -> int:
    """The variable as an integer; a clear error when it is not one."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    """The variable as a float; a clear error when it is not one."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from None


def kafka_bootstrap_servers() -> str:
    """Where the Kafka cluster is: KAFKA_BOOTSTRAP_SERVERS (comma-separated host:port)."""
    return env_str("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA)


def database_url(service: str) -> str:
    """The service's own database: <SERVICE>_DATABASE_URL, else that database on the local server."""
    return env_str(f"{service.upper()}_DATABASE_URL", f"{LOCAL_POSTGRES}/{service}")


DEVELOPMENT = "development"
MIN_KEY_BYTES = 32
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
BASE64_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=")


class InsecureKey(ValueError):
    """A secret key is missing, a development value, or too weak, outside development."""


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
    """`load()`, or exit with a clear message and a non-zero status when it refuses an insecure key."""
    try:
        return load()
    except InsecureKey as error:
        raise SystemExit(f"{service}: refusing to start: {error}") from None
