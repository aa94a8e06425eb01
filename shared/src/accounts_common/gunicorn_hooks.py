"""gunicorn's server hooks for every service's web process (`exec_gunicorn` passes this module)."""

from typing import Any

from accounts_common.process import freeze_startup_objects


def post_worker_init(worker: Any) -> None:
    """Once the worker has built its app: keep the startup objects out of every full collection."""
    freeze_startup_objects()
