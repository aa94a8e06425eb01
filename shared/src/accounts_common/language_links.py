"""Portal links that open the portal in a mail's language: the portal takes a link's `lang` for the
visitor's session, then opens the address without it (portal.entrypoints.i18n)."""

from urllib.parse import parse_qsl, urlencode, urlsplit


def in_language(url: str, language: str) -> str:
    """`url` with `language` as its `lang` (one it had is replaced; its other parameters are kept)."""
    parts = urlsplit(url)
    query = [
        (name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "lang"
    ]
    query.append(("lang", language))
    return parts._replace(path=parts.path or "/", query=urlencode(query)).geturl()
