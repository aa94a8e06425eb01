"""The console's admin pages: staff and their roles, and the audit trail."""

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, flash, request
from flask_babel import gettext
from werkzeug.wrappers import Response

from accounts_common.inputguard import MAX_YEAR
from accounts_common.roles import Role
from portal.adapters.http import ApiError
from portal.entrypoints.names import role_name
from portal.entrypoints.pages.console import render_console, staff_page, token
from portal.entrypoints.problems import field_errors
from portal.entrypoints.web import portal, see_other

blp = Blueprint("console_admin", __name__, url_prefix="/console")
AUDIT_FILTERS = ("actor", "action", "from", "to")


# --- Staff (admin) --------------------------------------------------------------------------------


@blp.get("/staff")
@staff_page(Role.ADMIN)
def staff() -> tuple[str, int]:
    return render_staff_page({}, {})


def render_staff_page(
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
    revoking: dict[str, str] | None = None,
) -> tuple[str, int]:
    """The staff page; `revoking` ({email, role}) asks to confirm that revocation."""
    members = portal().staff.members(token())
    roles = [role.value for role in Role]
    return render_console(
        "staff.html", members=members, roles=roles, values=values, errors=errors, revoking=revoking
    ), status


@blp.post("/staff/<any(grants, revocations):change>")
@staff_page(Role.ADMIN)
def change_role(change: str) -> Response | tuple[str, int]:
    email, role = request.form.get("email", "").strip(), request.form.get("role", "")
    granting = change == "grants"
    if not granting and request.form.get("confirmed") != "yes":  # their sessions end at once: ask first
        return render_staff_page({}, {}, revoking={"email": email, "role": role})
    if granting and not role:  # no role is chosen beforehand: never admin by oversight
        return render_staff_page({"email": email}, {"role": [gettext("Choose a role.")]}, 400)
    try:
        changed = portal().staff.change_role(token(), email, role, grant=granting)
    except ApiError as error:
        if error.status not in (404, 409, 422):
            raise
        typed = {"email": email, "role": role}
        if error.status == 409:  # the only admin's admin role: someone must keep the admin pages
            return render_staff_page(typed, field_errors(error, {}), 409)
        if error.status == 404:
            message = gettext("No verified account has this email address.")
            return render_staff_page(typed, {"email": [message]}, 404)
        return render_staff_page(typed, field_errors(error, {"email": "email", "role": "role"}), 400)
    role = role_name(role)
    if granting:
        flash(gettext("%(email)s now has the role %(role)s.", email=email, role=role) if changed else
              gettext("%(email)s already had the role %(role)s.", email=email, role=role))  # fmt: skip
    else:
        flash(gettext("%(email)s no longer has the role %(role)s.", email=email, role=role) if changed else
              gettext("%(email)s did not have the role %(role)s.", email=email, role=role))  # fmt: skip
    return see_other("console_admin.staff")


# --- Audit (admin) --------------------------------------------------------------------------------


@blp.get("/audit")
@staff_page(Role.ADMIN)
def audit() -> tuple[str, int]:
    """The page of the operator actions the address asks for, filtered; 404 past the last page."""
    values = {name: request.args.get(name, "").strip() for name in AUDIT_FILTERS}
    filters, errors = audit_filters(values)
    page = max(request.args.get("page", 1, int), 1)
    # Page 1 starts a listing: an old as_of there (a bookmark) would hide what happened since.
    as_of = request.args.get("as_of", "") if page > 1 else ""
    if as_of.isdecimal() and len(as_of) <= 18:  # else (edited by hand): the trail as it stands now
        filters["as_of"] = as_of
    listed: dict[str, Any] | None = None
    if not errors:
        try:
            listed = portal().staff.audit(token(), filters, page)
        except ApiError as error:  # a filter identity refuses, or a page past its last one (10,000)
            if error.status != 422:
                raise
            if "page" not in error.errors:
                errors = field_errors(
                    error, {"actor": "actor", "action": "action", "since": "from", "until": "to"}
                )
    shown = {name: value for name, value in values.items() if value}  # kept in the pages' links
    context = {"values": values, "errors": errors, "filters": shown}
    if errors:
        return render_console("audit.html", listed=None, **context), 400
    if listed is None or (not listed["items"] and listed["total"]):
        return render_console("audit.html", listed=None, no_such_page=True, **context), 404
    return render_console("audit.html", listed=listed, **context), 200


def audit_filters(values: dict[str, str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The form's filters as identity's query ({actor, action, since, until}), and the form's errors."""
    filters = {"actor": values["actor"], "action": values["action"]}
    errors: dict[str, list[str]] = {}
    for name, key, days in (("from", "since", 0), ("to", "until", 1)):
        if values[name]:
            try:
                typed = date.fromisoformat(values[name])
                day = typed + timedelta(days=days)
            except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
                errors[name] = [gettext("Enter a date, like 2026-12-04.")]
            else:
                # To the last day of the services' last year: no bound, the whole trail (the bound, the
                # day after, is past the years identity takes). Identity refuses any other bound out
                # of them, and the page says why (problems.API_MESSAGES).
                if day.year <= MAX_YEAR or typed.year > MAX_YEAR:
                    filters[key] = f"{day.isoformat()}T00:00:00Z"
    return filters, errors
