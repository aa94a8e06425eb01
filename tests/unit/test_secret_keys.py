"""No service starts on a built-in development key, or a weak one, outside ACCOUNTS_ENV=development."""

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from accounts_common.codecrypt import DEV_KEY, fernet_keys
from accounts_common.config import InsecureKey, key_strength_bytes, secret_key

STRONG = "kq3V0w9p-Xo2Lr7YtZ8bNc4Md1Ea6Fg5Hh0Ji9Kk8Ll7"  # 43 url-safe base64 characters: 32 bytes


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("ACCOUNTS_ENV", raising=False)
    return monkeypatch


def test_development_may_use_the_built_in_key(monkeypatch):
    monkeypatch.setenv("ACCOUNTS_ENV", "development")
    monkeypatch.delenv("SOME_KEY", raising=False)
    assert secret_key("SOME_KEY", "dev-value") == "dev-value"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "is not set"),
        ("dev-value", "development key"),
        ("short-but-random-Q9", "too weak"),
        ("a" * 200, "too weak"),
        ("0123456789abcdef" * 3, "too weak"),  # 48 hex digits: 24 bytes
    ],
)
def test_outside_development_a_missing_development_or_weak_key_is_refused(production, value, reason):
    if value is None:
        production.delenv("SOME_KEY", raising=False)
    else:
        production.setenv("SOME_KEY", value)
    with pytest.raises(InsecureKey, match=reason):
        secret_key("SOME_KEY", "dev-value")


def test_a_strong_key_is_accepted_anywhere(production):
    production.setenv("SOME_KEY", STRONG)
    assert secret_key("SOME_KEY", "dev-value") == STRONG
    assert key_strength_bytes("0123456789abcdef" * 4) == 32


def test_code_encryption_keys_must_be_real_fernet_keys(production):
    production.setenv("CODE_ENCRYPTION_KEYS", DEV_KEY)
    with pytest.raises(InsecureKey, match="development key"):
        fernet_keys("CODE_ENCRYPTION_KEYS", DEV_KEY)
    production.setenv("CODE_ENCRYPTION_KEYS", "x" * 10 + STRONG)
    with pytest.raises(InsecureKey, match="Fernet keys"):
        fernet_keys("CODE_ENCRYPTION_KEYS", DEV_KEY)
    real = Fernet.generate_key().decode()
    production.setenv("CODE_ENCRYPTION_KEYS", f"{real}, {Fernet.generate_key().decode()}")
    assert fernet_keys("CODE_ENCRYPTION_KEYS", DEV_KEY)[0] == real


@pytest.mark.parametrize("command", [["identity", "migrate"], ["mailer", "migrate"]])
def test_a_service_refuses_to_start_on_development_keys_with_a_clear_message(command):
    env = {key: value for key, value in os.environ.items() if not key.endswith(("_KEY", "_KEYS"))}
    env.pop("ACCOUNTS_ENV", None)
    # The database is never reached: the keys are checked first.
    env[f"{command[0].upper()}_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), command[0]), *command[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"{command[0]}: refusing to start" in done.stderr and "ACCOUNTS_ENV=development" in done.stderr
