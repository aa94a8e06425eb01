"""Staff roles (DESIGN §8): operators are ordinary accounts holding one or more of these."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CATALOGUE_EDITOR = "catalogue-editor"
    NEWSLETTER_EDITOR = "newsletter-editor"
    SUPPORT = "support"


ROLES = tuple(role.value for role in Role)
# RFC 8176's method for a one-time password: a role counts only in a token whose `amr` holds it.
SECOND_FACTOR = "otp"
