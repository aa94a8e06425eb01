"""The services' words for what the console lists (roles, mails, issues, audit entries, languages) as a
person reads them, in the page's language; a word not known here is shown as the service wrote it."""

from collections.abc import Callable, Mapping

from flask import Flask
from flask_babel import lazy_gettext, lazy_pgettext

ROLES = {
    "admin": lazy_gettext("Administrator"),
    "support": lazy_gettext("Support"),
    "newsletter-editor": lazy_gettext("Newsletter editor"),
    "catalogue-editor": lazy_gettext("Video catalogue editor"),
}
MAIL_KINDS = {
    "code": lazy_gettext("Verification code"),
    "account_exists": lazy_gettext("Account already exists"),
    "welcome": lazy_gettext("Welcome"),
    "password_updated": lazy_gettext("Password changed"),
    "newsletter": lazy_gettext("Newsletter"),
}
# In a context of their own: "Sent" is also the newsletter's figure, a plural in French.
MAIL_STATUSES = {
    "sending": lazy_pgettext("mail status", "Sending"),
    "sent": lazy_pgettext("mail status", "Sent"),
    "retrying": lazy_pgettext("mail status", "Retrying"),
    "failed": lazy_pgettext("mail status", "Failed"),
    "skipped": lazy_pgettext("mail status", "Skipped"),
}
# An issue's status; "sent" in a context of its own too (one issue: singular in French).
ISSUE_STATUSES = {
    "draft": lazy_gettext("Draft"),
    "scheduled": lazy_gettext("Scheduled"),
    "sending": lazy_pgettext("issue status", "Sending"),
    "sent": lazy_pgettext("issue status", "Sent"),
    "cancelled": lazy_gettext("Cancelled"),
}
# Why a scheduled issue is a draft again (the newsletter's `held_because`).
HELD_REASONS = {
    "role-revoked": lazy_gettext(
        "Back to draft: the editor who scheduled it no longer has the newsletter editor role. "
        "Schedule it again to send it."
    ),
    "account-deleted": lazy_gettext(
        "Back to draft: the account of the editor who scheduled it was deleted. Schedule it again to send it."
    ),
}
AUDIT_OUTCOMES = {
    "ok": lazy_gettext("Done"),
    "unchanged": lazy_gettext("Nothing to change"),
    "refused": lazy_gettext("Refused"),
}
# An account's language, in the page's (the language switch names each in its own).
LANGUAGES = {"en": lazy_gettext("English"), "fr": lazy_gettext("French")}
SERVICES = {
    "/identity": lazy_gettext("Account service"),
    "/mailer": lazy_gettext("Mail service"),
    "/newsletter": lazy_gettext("Newsletter"),
    "/catalogue": lazy_gettext("Video catalogue"),
}


def name_in(names: Mapping[str, object]) -> Callable[[str | None], str]:
    """The name of a service's word in `names`, else the word itself."""

    def name(word: str | None) -> str:
        return str(names.get(word or "", word or ""))

    return name


role_name = name_in(ROLES)


def install_names(app: Flask) -> None:
    """The template filters `role_name`, `mail_kind`, `mail_status`, `issue_status`, `held_reason`,
    `audit_outcome`, `service_name`, `language_name`."""
    app.add_template_filter(role_name, "role_name")
    app.add_template_filter(name_in(MAIL_KINDS), "mail_kind")
    app.add_template_filter(name_in(MAIL_STATUSES), "mail_status")
    app.add_template_filter(name_in(ISSUE_STATUSES), "issue_status")
    app.add_template_filter(name_in(HELD_REASONS), "held_reason")
    app.add_template_filter(name_in(AUDIT_OUTCOMES), "audit_outcome")
    app.add_template_filter(name_in(SERVICES), "service_name")
    app.add_template_filter(name_in(LANGUAGES), "language_name")
