"""The page of every newsletter mail's unsubscribe link (RFC 8058), in the portal's look.

GET shows the button and changes nothing (mail scanners follow links); POST with the body
`List-Unsubscribe=One-Click` (what mail clients send, and what the button sends) unsubscribes through
the newsletter's API. The link's `lang` is the subscriber's language. The POST carries no CSRF token:
a mail client has no session, and the signed token in the link is the whole authority.
"""

from flask import Blueprint, render_template, request, url_for

from portal.entrypoints.i18n import take_language
from portal.entrypoints.web import portal

blp = Blueprint("newsletter_link", __name__)
MAX_TOKEN_LENGTH = 200


def link_token() -> str:
    token = request.args.get("token", "")
    return token if len(token) <= MAX_TOKEN_LENGTH else ""


def in_the_links_language() -> None:
    """The page speaks the subscriber's language (the link's `lang`), and keeps it for this browser."""
    take_language(request.args.get("lang", ""))


def page(state: str, status: int = 200) -> tuple[str, int]:
    token = link_token()
    # The language switch comes back to the link without its `lang`, which would otherwise speak over
    # the language just chosen.
    back = url_for("newsletter_link.confirm", token=token or None)
    return render_template("newsletter/unsubscribe.html", state=state, token=token, page_address=back), status


@blp.get("/newsletter/unsubscribe")
def confirm() -> tuple[str, int]:
    in_the_links_language()
    token = link_token()
    if not token or not portal().newsletter.link_is_genuine(token):
        return page("invalid", 400)
    return page("confirm")


@blp.post("/newsletter/unsubscribe")
def one_click() -> tuple[str, int]:
    in_the_links_language()
    token = link_token()
    if request.form.get("List-Unsubscribe") != "One-Click" or not token:
        return page("invalid", 400)
    if not portal().newsletter.unsubscribe_by_link(token):
        return page("invalid", 400)
    return page("done")
