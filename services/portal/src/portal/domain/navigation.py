"""Where the portal may send the user back to, in which language it speaks, how it writes a duration."""

from collections.abc import Iterable

from accounts_common.returnpaths import same_site_path

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


def safe_return_path(candidate: str | None, default: str = "/") -> str:
    """A path on this site to return to; anything else (another host, a scheme) gives `default`."""
    return same_site_path(candidate) or default


def choose_language(chosen: str | None, offered: Iterable[str]) -> str:
    """The language the user chose (switch or account), else the browser's first supported one."""
    if chosen in LANGUAGES:
        return str(chosen)
    for language in offered:
        primary = language.split("-", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def clock_duration(seconds: float | int | None) -> str:
    """A video's length as m:ss or h:mm:ss."""
    whole = max(0, round(seconds or 0))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
