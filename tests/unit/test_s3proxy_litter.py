"""deploy/local/s3proxy_litter.py, run before S3Proxy starts: the files of writes S3Proxy never
finished go, everything else stays, and a filesystem without extended attributes stops nothing."""

import errno
import os
from pathlib import Path

import pytest

from tests.support.scripts import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "s3proxy_litter.py"
litter = load_script(SCRIPT, "s3proxy_litter")
CUT_OFF = "part-00001-0f8e2d4c-6b1a-4c2e-9d3f-5a7b8c9d0e1f"


def data_folder(tmp_path: Path) -> Path:
    bucket = tmp_path / "bucket" / "uploads"
    bucket.mkdir(parents=True)
    for name in (CUT_OFF, "finished-0f8e2d4c-6b1a-4c2e-9d3f-5a7b8c9d0e1f", "master.mp4"):
        (bucket / name).write_bytes(b"bytes")
    os.setxattr(bucket / "finished-0f8e2d4c-6b1a-4c2e-9d3f-5a7b8c9d0e1f", litter.ETAG, b"md5")
    return tmp_path


def test_only_a_write_never_finished_is_deleted(tmp_path, capsys):
    data = data_folder(tmp_path)
    assert litter.main(["s3proxy_litter.py", str(data)]) == 0
    left = sorted(path.name for path in (data / "bucket" / "uploads").iterdir())
    assert left == ["finished-0f8e2d4c-6b1a-4c2e-9d3f-5a7b8c9d0e1f", "master.mp4"]
    assert f"deleted {data / 'bucket' / 'uploads' / CUT_OFF}" in capsys.readouterr().out


def test_without_extended_attributes_nothing_is_deleted_and_s3proxy_starts(tmp_path, monkeypatch, capsys):
    data = data_folder(tmp_path)

    def unsupported(path: object) -> list[str]:
        raise OSError(errno.ENOTSUP, os.strerror(errno.ENOTSUP), str(path))

    monkeypatch.setattr(litter.os, "listxattr", unsupported)
    assert litter.main(["s3proxy_litter.py", str(data)]) == 0
    assert len(list((data / "bucket" / "uploads").iterdir())) == 3
    assert "keeps no extended attributes; no write deleted" in capsys.readouterr().err


def test_another_error_is_not_hidden(tmp_path, monkeypatch):
    data = data_folder(tmp_path)

    def denied(path: object) -> list[str]:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(litter.os, "listxattr", denied)
    with pytest.raises(PermissionError):
        litter.main(["s3proxy_litter.py", str(data)])
