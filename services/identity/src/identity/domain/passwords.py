"""Password policy: which rules a candidate password breaks, in words a person understands."""

import string
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

SYMBOLS = set(string.punctuation)
DECORATION = string.digits + string.punctuation + string.whitespace
TOO_COMMON = "This password is too common; choose another."
MAX_PASSWORD_LENGTH = 128  # every profile's upper bound; longer is refused, never truncated


@dataclass(frozen=True)
class Password:
    """A password as identity received it. `prepared` is what the policy checks, argon2 hashes and a
    login compares: the password in Unicode NFC (the normalisation of RFC 8265's OpaqueString), so
    "é" typed as one character (most keyboards) or as "e" and a combining accent (some keyboards,
    macOS pastes) is one password. Kept out of `repr`, so no log or traceback shows it."""

    typed: str = field(repr=False)

    @property
    def prepared(self) -> str:
        return unicodedata.normalize("NFC", self.typed)

    def forms(self) -> tuple[str, ...]:
        """What a login compares with the stored hash, in turn: the prepared form, then the form a
        hash made before identity prepared passwords may be of: the password as typed when that is
        not in NFC, else its NFD form (set up pasted decomposed, now typed on a keyboard), when it
        differs. Which forms are tried depends on the password alone, never on the account."""
        prepared = self.prepared
        legacy = self.typed if self.typed != prepared else unicodedata.normalize("NFD", prepared)
        return (prepared,) if legacy == prepared else (prepared, legacy)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords (lower-case), read once per process."""
    text = files("identity").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


@dataclass(frozen=True)
class PasswordPolicy:
    """The seed's rules by default; `nist()` is the NIST SP 800-63B profile (length only)."""

    min_length: int = 12
    max_length: int = MAX_PASSWORD_LENGTH
    allow_spaces: bool = False
    require_composition: bool = True
    common: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @classmethod
    def nist(cls, common: frozenset[str] = frozenset()) -> "PasswordPolicy":
        """At least 8 characters, up to 128, spaces allowed, no composition rules."""
        return cls(min_length=8, allow_spaces=True, require_composition=False, common=common)

    @classmethod
    def named(cls, profile: str, common: frozenset[str] = frozenset()) -> "PasswordPolicy":
        """The policy called `seed` or `nist`, refusing the passwords in `common` (any case)."""
        profiles = {"seed": cls(common=common), "nist": cls.nist(common)}
        if profile not in profiles:
            raise ValueError(f"unknown password policy {profile!r}; choose one of {sorted(profiles)}")
        return profiles[profile]

    def violations(self, password: str) -> list[str]:
        """Every rule the password breaks; empty when it is acceptable."""
        broken = []
        if len(password) < self.min_length:
            broken.append(f"Use at least {self.min_length} characters.")
        if len(password) > self.max_length:
            broken.append(f"Use at most {self.max_length} characters.")
        if not self.allow_spaces and any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in password):
            broken.append("Do not use spaces.")
        if self.require_composition:
            broken += self._composition_violations(password)
        if self.is_common(password):
            broken.append(TOO_COMMON)
        return broken

    def pattern(self) -> str:
        """A regular expression (ECMA-262, for the OpenAPI document) that every password this policy
        accepts matches, apart from the common-password check no pattern can state."""
        rules = ""
        if self.require_composition:
            rules = r"(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])(?=.*[!-/:-@\[-`{-~])"
        characters = r"[^\x00-\x1f\x7f-\x9f]" if self.allow_spaces else r"[^\s\x00-\x1f\x7f-\x9f]"
        return f"^{rules}{characters}{{{self.min_length},{self.max_length}}}$"

    def is_common(self, password: str) -> bool:
        """Listed as common in any case, also once the digits and symbols around it are taken off."""
        # "Password123!" passes every composition rule, yet is "password" with the usual decoration.
        lowered = password.lower()
        return lowered in self.common or lowered.strip(DECORATION) in self.common

    @staticmethod
    def _composition_violations(password: str) -> list[str]:
        checks = [
            (any(ch.isupper() for ch in password), "Include an uppercase letter."),
            (any(ch.islower() for ch in password), "Include a lowercase letter."),
            (any(ch.isdigit() for ch in password), "Include a number."),
            (any(ch in SYMBOLS for ch in password), "Include a symbol, such as ! ? # or %."),
        ]
        return [message for present, message in checks if not present]
