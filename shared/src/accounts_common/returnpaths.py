"""Same-site return paths (`next`, `return_to`): decided the way a browser reads a Location, so
nothing the browser would turn into another host gets through."""

import unicodedata
from urllib.parse import unquote, urlsplit

# For OpenAPI (ECMA-262): printable ASCII, one leading slash, no backslash, no percent-escape right
# after the slash. A subset of what same_site_path accepts, so a client that follows it is never refused.
SAME_SITE_PATH_PATTERN = r"^/(?![/\\%])[!-\[\]-~]*$"


def same_site_path(candidate: str | None) -> str | None:
    """`candidate` without its whitespace and control characters if that is a path on this site
    (no scheme, no host, no backslash, nor once percent-decoded), else None."""
    if not candidate:
        return None
    path = _without_invisibles(candidate)
    if "\\" in path or not _is_local_path(path) or not _is_local_path(_without_invisibles(unquote(path))):
        return None
    return path


def is_same_site_path(candidate: str) -> bool:
    """True when `candidate` is already a clean same-site path (an API refuses anything else)."""
    return same_site_path(candidate) == candidate


def _without_invisibles(text: str) -> str:
    # Browsers drop tab, CR and LF anywhere in a URL and trim spaces and controls around it:
    # "/\t/evil.example" is "//evil.example" to them, so it must be to us.
    return "".join(
        character
        for character in text
        if not character.isspace() and unicodedata.category(character) not in ("Cc", "Cf")
    )


def _is_local_path(path: str) -> bool:
    # Browsers read a backslash as a slash: "/\\host" is "//host", another site.
    if not path.startswith("/") or path[1:2] in ("/", "\\"):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc
