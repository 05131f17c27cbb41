"""Fetching JSON from a meter over HTTP, turning every failure into a MeterError that names it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import HttpUrl, SecretStr

from zeropower.meter.reading import MeterError

HttpAuthKind = Literal["none", "basic", "digest", "bearer"]


class JsonHttp:
    """GET requests to one device with its auth and a total deadline per request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        timeout_s: float,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._auth = auth
        self._headers = dict(headers or {})

    async def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``url`` and decode its JSON answer (``NaN`` literals decode to floats, checked later)."""
        shown = shown_url(url)
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.get(
                    url,
                    params=params,
                    headers=self._headers,
                    auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                    timeout=self._timeout_s,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise MeterError(f"no answer from {shown} within {self._timeout_s:g} s") from None
        except httpx.HTTPError as error:
            raise MeterError(f"request to {shown} failed: {type(error).__name__}: {error}") from None
        if not response.is_success:
            hint = " (check user name and password or token)" if response.status_code in {401, 403} else ""
            detail = response.text.strip().replace("\n", " ")[:120]
            raise MeterError(
                f"HTTP {response.status_code} {response.reason_phrase} from {shown}{hint}"
                + (f": {detail}" if detail else "")
            )
        try:
            return response.json()
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser can go
            raise MeterError(f"answer from {shown} is not JSON: {response.text[:60]!r}") from None


def secret_value(secret: SecretStr | None) -> str | None:
    """The secret's text; None when unset or empty (``${SHELLY_PASSWORD:-}`` gives an empty one)."""
    if secret is None:
        return None
    return secret.get_secret_value() or None


def make_auth(kind: HttpAuthKind, username: str | None, password: SecretStr | None) -> httpx.Auth | None:
    """HTTP basic or digest auth from settings (a bearer token goes into a header instead)."""
    if kind == "basic":
        return httpx.BasicAuth(username or "", secret_value(password) or "")
    if kind == "digest":
        return httpx.DigestAuth(username or "", secret_value(password) or "")
    return None


def shown_url(url: HttpUrl | str) -> str:
    """A URL as logs, errors and descriptions show it: without user info, query or trailing slash.

    User info and query may hold secrets: ``http://admin:pw@host``, Tasmota's ``?password=``, an ``?apikey=``.
    """
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(username=None, password=None, query=None)).rstrip("/")


def base_url(url: HttpUrl) -> str:
    """A configured device URL without its trailing slash, ready for ``base + "/path"``."""
    return str(url).rstrip("/")
