"""Settings from the environment, with defaults that work on a developer's machine."""

import os

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
