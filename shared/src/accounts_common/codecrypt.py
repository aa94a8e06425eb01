"""Encryption of secrets with Fernet keys from the environment: one-time codes on their way from
identity to the mailer (never plaintext on Kafka), and identity's signing keys at rest."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from accounts_common.config import InsecureKey, secret_key

# Local development only (ACCOUNTS_ENV=development): identity and mailer must share real
# CODE_ENCRYPTION_KEYS in any other deployment.
DEV_KEY = "ZGV2LW9ubHktY29kZS1rZXktbm90LWZvci1wcm9kISE="


class CodeCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256); the first key encrypts, every key decrypts (rotation)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
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


def fernet_keys(variable: str, development_key: str) -> tuple[str, ...]:
    """The comma-separated Fernet keys of a variable, checked (see config.secret_key for the rules)."""
    keys = tuple(key.strip() for key in secret_key(variable, development_key).split(",") if key.strip())
    try:
        CodeCipher(list(keys))
    except ValueError:
        raise InsecureKey(
            f"{variable} must hold Fernet keys: 32 url-safe base64-encoded bytes each "
            "(`python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        ) from None
    return keys


def cipher_from_env() -> CodeCipher:
    """The cipher of the codes, from CODE_ENCRYPTION_KEYS (the first encrypts, all decrypt)."""
    return CodeCipher(list(fernet_keys("CODE_ENCRYPTION_KEYS", DEV_KEY)))
