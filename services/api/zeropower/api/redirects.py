"""Where ``/api/toggle?redirect=`` may send the browser: a relative path or an allowed origin, never elsewhere."""

from __future__ import annotations

import re

from fastapi import HTTPException

_TAIL = r"[^\\\x00-\x1f]*"  # the rest of a URL: no backslash, no control character
_SYNTAX = frozenset("\\^$.|?*+()[]{}/")  # escaped alike in Python's and ECMA-262's regular expressions


def _caseless(text: str) -> str:
    """A regular expression matching ``text`` in any letter case (alike in Python and ECMA-262, for OpenAPI)."""
    return "".join(
        f"[{char.lower()}{char.upper()}]"
        if char.isascii() and char.isalpha()
        else f"\\{char}"
        if char in _SYNTAX
        else char
        for char in text
    )


def redirect_pattern(allowed_origins: list[str]) -> str:
    """The redirects allowed, as one regular expression (documented in OpenAPI and checked by ``redirect_target``).

    A path starting with a single ``/``, or a URL on one of ``allowed_origins`` (``scheme://host[:port]`` in any
    letter case) followed by nothing or a path, query or fragment; no backslash or control character anywhere.
    """
    relative = rf"/(?:[^/\\\x00-\x1f]{_TAIL})?"
    absolute = [rf"{_caseless(origin)}(?:[/?#]{_TAIL})?" for origin in allowed_origins]
    return "^(?:" + "|".join([relative, *absolute]) + ")$"


def redirect_target(url: str, pattern: str) -> str:
    """Return ``url`` if it matches ``pattern`` (from ``redirect_pattern``); raise 400 otherwise."""
    if re.fullmatch(pattern, url) is None:
        raise HTTPException(
            400,
            f"redirect: only a relative path (/...) or an origin in api.redirect_allow_origins is allowed, not {url!r}",
        )
    return url
