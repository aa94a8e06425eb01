import inspect
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from accounts_common.auth import JwksCache
from identity.adapters.account_store import Account
from identity.adapters.tokens import (
    ConfiguredKeys,
    DatabaseKeys,
    issued_at_for,
    key_id,
    key_ring,
    key_sealer,
    pem_of,
)
from identity.settings import Settings


def account(password_reset_at=None):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    return Account(uuid.uuid4(), "a@example.org", "hash", now, now, now, password_reset_at, None)


def test_configured_keys_sign_with_the_first_and_publish_all():
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys = ConfiguredKeys(pem_of(first) + "\n" + pem_of(second)).active_keys(None)  # type: ignore[arg-type]
    assert [key.kid for key in keys] == [key_id(first), key_id(second)]
    assert {jwk["crv"] for jwk in (key.public_jwk() for key in keys)} == {"Ed25519"}
    assert "d" not in keys[0].public_jwk()


def test_keys_that_are_not_ed25519_are_refused():
    rsa = generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ValueError, match="Ed25519"):
        ConfiguredKeys(pem)
    with pytest.raises(ValueError, match="no PEM block"):
        ConfiguredKeys("just text")


def settings(signing_keys_pem: str) -> Settings:
    return Settings(
        database_url="", kafka_bootstrap_servers="", code_hmac_key=b"k", signing_keys_pem=signing_keys_pem
    )


def test_without_configured_keys_the_database_keeps_them():
    assert isinstance(key_ring(settings("  ")), DatabaseKeys)
    assert isinstance(key_ring(settings(pem_of(Ed25519PrivateKey.generate()))), ConfiguredKeys)


def test_database_keys_are_sealed_at_rest_with_the_key_encryption_key():
    sealer = key_sealer(settings(""))
    pem = pem_of(Ed25519PrivateKey.generate())
    sealed = sealer.encrypt(pem)
    assert "PRIVATE KEY" not in sealed and sealer.decrypt(sealed) == pem


def test_a_token_is_never_dated_before_the_last_password_reset():
    now = datetime.now(UTC).replace(microsecond=0)
    assert issued_at_for(account()) >= now
    just_after_a_reset = now + timedelta(seconds=1)
    assert issued_at_for(account(just_after_a_reset)) == just_after_a_reset
    assert issued_at_for(account(now - timedelta(days=1))) >= now


def test_identity_rereads_its_keys_no_later_than_the_other_services_reread_its_key_set():
    """docs/api.md: a key retired with `identity rotate-key` stops verifying everywhere within 30 s."""
    verifiers = inspect.signature(JwksCache).parameters["max_age_s"].default
    assert settings("").signing_key_cache_s <= verifiers == 30
