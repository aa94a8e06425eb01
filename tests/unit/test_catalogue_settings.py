"""The catalogue refuses to sign download links with a development or weak key outside development."""

import pytest

from accounts_common.config import InsecureKey
from catalogue.settings import DEV_DOWNLOAD_LINK_KEY, Settings

STRONG = "kq3V0w9p-Xo2Lr7YtZ8bNc4Md1Ea6Fg5Hh0Ji9Kk8Ll7"


@pytest.mark.parametrize("value", [None, DEV_DOWNLOAD_LINK_KEY, "short-key"])
def test_outside_development_the_link_key_must_be_a_real_secret(monkeypatch, value):
    monkeypatch.delenv("ACCOUNTS_ENV", raising=False)
    if value is None:
        monkeypatch.delenv("CATALOGUE_DOWNLOAD_LINK_KEY", raising=False)
    else:
        monkeypatch.setenv("CATALOGUE_DOWNLOAD_LINK_KEY", value)
    with pytest.raises(InsecureKey):
        Settings.from_env()
    monkeypatch.setenv("CATALOGUE_DOWNLOAD_LINK_KEY", STRONG)
    assert Settings.from_env().download_link_key == STRONG.encode()


def test_development_may_use_the_built_in_key(monkeypatch):
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.delenv("CATALOGUE_DOWNLOAD_LINK_KEY", raising=False)
    assert Settings.from_env().download_link_key == DEV_DOWNLOAD_LINK_KEY.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "http://127.0.0.1:8002"), ("https://videos.example.org/", "https://videos.example.org")],
)
def test_the_public_url_is_configured_never_taken_from_the_request(monkeypatch, value, expected):
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    if value is None:
        monkeypatch.delenv("CATALOGUE_PUBLIC_URL", raising=False)
    else:
        monkeypatch.setenv("CATALOGUE_PUBLIC_URL", value)
    assert Settings.from_env().public_url == expected


@pytest.mark.parametrize("value", ["/srv/media", "s3:/bucket", "file:///srv/media", "s3://"])
def test_a_storage_that_is_not_a_bucket_is_refused_at_start_up(monkeypatch, value):
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.setenv("CATALOGUE_STORAGE", value)
    with pytest.raises(ValueError, match="s3://bucket"):
        Settings.from_env()
    monkeypatch.setenv("CATALOGUE_STORAGE", "s3://media/videos")
    assert Settings.from_env().storage == "s3://media/videos"
