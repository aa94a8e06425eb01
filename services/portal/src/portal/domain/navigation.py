"""Where the portal may send the user back to, and in which language it speaks."""

from collections.abc import Iterable

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


def safe_return_path(candidate: str | None, default: str = "/") -> str:
    """A path on this site to return to; anything else (another host, a scheme) gives `default`."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return default
    return candidate


def choose_language(chosen: str | None, offered: Iterable[str]) -> str:
    """The language the user chose (switch or account), else the browser's first supported one."""
    if chosen in LANGUAGES:
        return str(chosen)
    for language in offered:
        primary = language.split("-", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE
