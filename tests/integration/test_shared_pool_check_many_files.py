"""The pools' checkout check in a process with over 1024 files open (FD_SETSIZE, select()'s limit)."""

import os
import resource
import uuid
from collections.abc import Iterator

import pytest

from accounts_common.db import create_pool
from tests.conftest import Infra, migrated_database

FD_SETSIZE = 1024


@pytest.fixture
def many_files_open() -> Iterator[None]:
    """Open descriptors until the next one is past FD_SETSIZE (a busy gthread worker, a test run)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < FD_SETSIZE + 64:
        pytest.skip(f"the hard limit of open files ({hard}) stays below FD_SETSIZE")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, FD_SETSIZE + 64), hard))
    opened = []
    try:
        while (fd := os.open(os.devnull, os.O_RDONLY)) <= FD_SETSIZE:
            opened.append(fd)
        opened.append(fd)
        yield
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_past_fd_setsize_is_handed_out(infra: Infra, many_files_open):
    url = migrated_database(infra, f"test_pool_fds_{uuid.uuid4().hex[:8]}")
    with create_pool(url, name="test-pool-many-files", max_size=1, timeout_s=2) as pool:
        with pool.connection() as conn:
            assert conn.fileno() > FD_SETSIZE
            conn.execute("SELECT 1")
        with pool.connection() as conn:  # the checkout check runs on the connection handed back
            assert conn.execute("SELECT 1").fetchone() == (1,)
