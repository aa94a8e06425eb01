"""The console's admin pages: staff and their roles, and the audit trail."""

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, flash, request
from flask_babel import gettext
from werkzeug.wrappers import Response

from accounts_common.roles import Role
from portal.adapters.http import ApiError
from portal.entrypoints.names import role_name
from portal.entrypoints.pages.console import render_console, staff_page, token
from portal.entrypoints.problems import field_errors
from portal.entrypoints.web import portal, see_other

blp = Blueprint("console_admin", __name__, url_prefix="/console")
# The audit page shows this many actions, the newest; the filters narrow it to older ones.
AUDIT_PAGE_SIZE = 100


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
        if error.status not in (404, 422):
            raise
        typed = {"email": email, "role": role}
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
    values = {name: request.args.get(name, "").strip() for name in ("actor", "action", "from", "to")}
    errors: dict[str, list[str]] = {}
    filters = {"actor": values["actor"], "action": values["action"], "limit": str(AUDIT_PAGE_SIZE)}
    for name, key, days in (("from", "since", 0), ("to", "until", 1)):
        if values[name]:
            try:
                day = date.fromisoformat(values[name]) + timedelta(days=days)
            except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
                errors[name] = [gettext("Enter a date, like 2026-12-04.")]
            else:
                filters[key] = f"{day.isoformat()}T00:00:00Z"
    entries: list[dict[str, Any]] = []
    if not errors:
        try:
            entries = portal().staff.audit(token(), filters)
        except ApiError as error:
            if error.status != 422:
                raise
            errors = field_errors(
                error, {"actor": "actor", "action": "action", "since": "from", "until": "to"}
            )
    status = 400 if errors else 200
    return render_console(
        "audit.html", entries=entries, values=values, errors=errors, page_size=AUDIT_PAGE_SIZE
    ), status
