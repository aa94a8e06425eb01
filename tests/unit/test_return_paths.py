"""Same-site return paths (accounts_common.returnpaths), shared by the portal's `next` and identity's
`return_to`: the tricks a browser would turn into another host, and patterns that match whole strings."""

import re

import pytest
from marshmallow import ValidationError

from accounts_common.returnpaths import SAME_SITE_PATH_PATTERN, is_same_site_path, same_site_path
from accounts_common.textfields import WholeMatch

# (candidate, what the portal returns to: the cleaned path, or None for "not ours")
TRICKS = [
    ("/\t/host", None),
    ("/\r/host", None),
    ("/\n/host", None),
    ("/%5Chost", None),
    ("/%5chost", None),
    ("/\\host", None),
    ("\\\\host", None),
    ("//host", None),
    ("///host", None),
    (" //host", None),
    ("/%2F/host", None),
    ("/%09/evil.example", None),
    ("/%0A/evil.example", None),
    ("/\u200b/evil.example", None),
    ("https:", None),
    ("https://evil.example/", None),
    ("http:/evil.example", None),
    ("javascript:alert(1)", None),
    ("JavaScript:alert(1)", None),
    ("\tjavascript:alert(1)", None),
    ("evil.example", None),
    ("", None),
    (None, None),
    ("/\nx", "/x"),
    ("/x\n", "/x"),
    ("/x\u0000", "/x"),
    (" /videos/1 ", "/videos/1"),
    ("/", "/"),
    ("/videos/1?q=a", "/videos/1?q=a"),
    ("/videos?q=caf%C3%A9", "/videos?q=caf%C3%A9"),
    ("/a%2F%2Fb", "/a%2F%2Fb"),
    ("/javascript:alert(1)", "/javascript:alert(1)"),
]


@pytest.mark.parametrize(("candidate", "expected"), TRICKS)
def test_only_paths_of_this_site_come_back(candidate, expected):
    assert same_site_path(candidate) == expected


@pytest.mark.parametrize(
    ("candidate", "accepted"),
    [("/videos/1?q=a", True), ("/x\n", False), (" /x", False), ("/\t/host", False), ("//host", False)],
)
def test_an_api_takes_only_paths_that_are_already_clean(candidate, accepted):
    assert is_same_site_path(candidate) is accepted


@pytest.mark.parametrize("candidate", [candidate for candidate, _ in TRICKS if candidate is not None])
def test_the_documented_pattern_never_admits_what_the_function_refuses(candidate):
    # The OpenAPI pattern is ECMA-262, where $ ends the string: Python's fullmatch reads it the same.
    if re.fullmatch(SAME_SITE_PATH_PATTERN, candidate):
        assert is_same_site_path(candidate)


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^[0-9]{6}$", "123456", True),
        (r"^[0-9]{6}$", "123456\n", False),
        (r"^[^\r\n]*$", "one line", True),
        (r"^[^\r\n]*$", "one line\n", False),
        (r"^[0-9a-f]{64}$", "a" * 64 + "\n", False),
    ],
)
def test_patterns_match_the_whole_string_as_json_schema_reads_them(pattern, value, matches):
    validator = WholeMatch(pattern)
    if matches:
        assert validator(value) == value
    else:
        with pytest.raises(ValidationError):
            validator(value)
    assert validator.regex.pattern == pattern  # what the OpenAPI and AsyncAPI documents show
