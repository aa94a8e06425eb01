"""Importing the repository's scripts (deploy/local/*.py: run as files, not packages) in a test."""

import importlib.util
import sys
from pathlib import Path
from typing import Any


def load_script(path: Path, name: str) -> Any:
    """The script at `path` imported as module `name`, its folder on sys.path as when it runs (it may
    import its neighbours: nginx_conf.py its nginx_blocks.py)."""
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
