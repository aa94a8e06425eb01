"""Paging, the same for every list the services answer: `page` and `per_page` in the query, and an
answer of {items, total, page, per_page}; past the last page, no items (never an error)."""

from typing import Any

from marshmallow import Schema, fields, validate

MAX_PAGE = 10_000  # OFFSET reads and drops every row before the page: a bound on that work
MAX_PER_PAGE = 100
PER_PAGE = 20


def per_page_field(default: int = PER_PAGE) -> fields.Integer:
    """The `per_page` argument, for a list whose page holds `default` items unless asked."""
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageQuery(Schema):
    """A list's query arguments: inherit it, with the list's filters."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = per_page_field()


class PageEnvelope(Schema):
    """A list's answer: inherit it, with `items` of the list's own schema."""

    total = fields.Integer(required=True, metadata={"description": "The items on every page"})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


def offset(page: int, per_page: int) -> int:
    """How many items the pages before `page` hold: the SQL OFFSET of that page."""
    return (page - 1) * per_page


def envelope(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    """The answer of a PageEnvelope: the page's items, how many there are on every page, which page."""
    return {"items": items, "total": total, "page": page, "per_page": per_page}
