"""Encryption of one-time codes on their way from identity to the mailer (never plaintext on Kafka)."""

import logging
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

# Local development only: identity and mailer must share CODE_ENCRYPTION_KEYS in any real deployment.
DEV_KEY = "ZGV2LW9ubHktY29kZS1rZXktbm90LWZvci1wcm9kISE="


class CodeCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256); the first key encrypts, every key decrypts (rotation)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one code encryption key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, code: str) -> str:
        """The code as an opaque token."""
        return self._fernet.encrypt(code.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The code back; ValueError when the token was not made with one of our keys."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("code_encrypted was not made with any of our keys") from None


def cipher_from_env() -> CodeCipher:
    """The cipher for CODE_ENCRYPTION_KEYS (comma-separated Fernet keys), or the development key."""
    raw = os.environ.get("CODE_ENCRYPTION_KEYS", "")
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        log.warning("CODE_ENCRYPTION_KEYS is not set: using the development key")
        keys = [DEV_KEY]
    return CodeCipher(keys)
