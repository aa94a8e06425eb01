"""Password policy: which rules a candidate password breaks, in words a person understands."""

import string
from dataclasses import dataclass

SYMBOLS = set(string.punctuation)


@dataclass(frozen=True)
class PasswordPolicy:
    """The seed's rules by default; `nist()` is the NIST SP 800-63B profile (length only)."""

    min_length: int = 12
    max_length: int = 128
    allow_spaces: bool = False
    require_composition: bool = True

    @classmethod
    def nist(cls) -> "PasswordPolicy":
        """At least 8 characters, up to 128, spaces allowed, no composition rules."""
        return cls(min_length=8, allow_spaces=True, require_composition=False)

    @classmethod
    def named(cls, profile: str) -> "PasswordPolicy":
        """The policy called `seed` or `nist`."""
        profiles = {"seed": cls(), "nist": cls.nist()}
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
        if not self.allow_spaces and any(ch.isspace() for ch in password):
            broken.append("Do not use spaces.")
        if self.require_composition:
            broken += self._composition_violations(password)
        return broken

    @staticmethod
    def _composition_violations(password: str) -> list[str]:
        checks = [
            (any(ch.isupper() for ch in password), "Include an uppercase letter."),
            (any(ch.islower() for ch in password), "Include a lowercase letter."),
            (any(ch.isdigit() for ch in password), "Include a number."),
            (any(ch in SYMBOLS for ch in password), "Include a symbol, such as ! ? # or %."),
        ]
        return [message for present, message in checks if not present]
