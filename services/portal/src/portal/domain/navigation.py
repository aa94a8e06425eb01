"""Where the portal may send the user back to, in which language it speaks, how it writes a duration."""

import posixpath
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from accounts_common.returnpaths import same_site_path

# The login page sends a signed-in user to the return path, and /logout is POST-only: neither is a
# page to come back to after logging in.
NOT_RETURNED_TO = ("/login", "/login/code", "/logout")
# Identity keeps a password reset's return path up to this length, and refuses the reset beyond it.
MAX_RETURN_PATH = 512
LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


def safe_return_path(candidate: str | None, default: str = "/") -> str:
    """A path on this site to return to; anything else (another host, a scheme) gives `default`."""
    return same_site_path(candidate) or default


def page_to_return_to(candidate: str | None, default: str = "/") -> str:
    """A page of this site to come back to after logging in; the login page itself, or a path too
    long for identity to keep, gives `default`."""
    path = same_site_path(candidate)
    if path is None or len(path) > MAX_RETURN_PATH:
        return default
    if posixpath.normpath(unquote(urlsplit(path).path)) in NOT_RETURNED_TO:
        return default
    return path


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
