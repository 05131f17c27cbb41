"""Secrets in a stored setup: hidden in what the API shows, kept when a form sends the hidden value back."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr
from pydantic_core import to_jsonable_python

#: What a secret reads as (pydantic's own rendering of a SecretStr).
HIDDEN = "**********"
#: Query parameters whose value is a secret (e.g. ``?apikey=``, ``&password=``).
SECRET_QUERY_WORDS = ("pass", "token", "key", "secret", "auth")


def hide_url_secrets(text: str) -> str:
    """A URL with the password of its user info and its secret query values hidden; other text as it is."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    if not parts.scheme or not parts.netloc:
        return text
    netloc = parts.netloc
    if password is not None:
        netloc = f"{parts.netloc.rpartition('@')[0].partition(':')[0]}:{HIDDEN}@{parts.netloc.rpartition('@')[2]}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    hidden_query = [(k, HIDDEN if any(w in k.lower() for w in SECRET_QUERY_WORDS) else v) for k, v in query]
    if netloc == parts.netloc and hidden_query == query:
        return text
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(hidden_query, safe="*")))


def hidden(value: Any) -> Any:
    """A dumped config (SecretStr already ``**********``) with the secrets in its URLs hidden too."""
    if isinstance(value, dict):
        return {key: hidden(item) for key, item in value.items()}
    if isinstance(value, list):
        return [hidden(item) for item in value]
    return hide_url_secrets(value) if isinstance(value, str) else value


def revealed(value: Any) -> Any:
    """A model's ``model_dump()`` as JSON values with each SecretStr's value, for comparing with a submission."""
    if isinstance(value, dict):
        return {key: revealed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [revealed(item) for item in value]
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return to_jsonable_python(value)


def restore_secrets(submitted: Any, stored: Any) -> Any:
    """``submitted`` with every hidden secret (as ``hidden`` shows it) replaced by the stored one at its place."""
    if isinstance(submitted, dict) and isinstance(stored, dict):
        return {key: restore_secrets(item, stored.get(key)) for key, item in submitted.items()}
    if isinstance(submitted, list) and isinstance(stored, list):
        return [restore_secrets(item, stored[i] if i < len(stored) else None) for i, item in enumerate(submitted)]
    hides_stored = isinstance(stored, str) and submitted in (HIDDEN, hide_url_secrets(stored))
    return stored if isinstance(submitted, str) and HIDDEN in submitted and hides_stored else submitted
