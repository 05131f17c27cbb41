"""The token check, in front of the app: FastAPI reads and parses a body before it runs any dependency."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from fastapi.security import APIKeyQuery, HTTPBearer
from pydantic import SecretStr
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from zeropower.api.errors import error

#: Only document the token in OpenAPI (TokenGuard checks it): either scheme will do.
DOCUMENTED_SCHEMES = (HTTPBearer(auto_error=False), APIKeyQuery(name="token", auto_error=False))


def given_token(scope: Scope) -> str | None:
    """The token a request carries: ``Authorization: Bearer`` before ``?token=``; an empty one counts as none."""
    connection = HTTPConnection(scope)
    header = connection.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return bearer or connection.query_params.get("token") or None


class TokenGuard:
    """Answers 401 to a request for one of ``routes`` without ``token``, before anything reads its body.

    The connection is closed after the 401, so an unread body is not received either.
    """

    def __init__(self, app: ASGIApp, token: SecretStr, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self._token = token.get_secret_value().encode()
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 or pass the request on."""
        if scope["type"] == "http" and self._guarded(scope) and not self._authorized(scope):
            headers = {"WWW-Authenticate": "Bearer", "Connection": "close"}
            await error(401, "a valid token is required: Authorization: Bearer <token> or ?token=<token>", headers)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def _guarded(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self._routes)

    def _authorized(self, scope: Scope) -> bool:
        given = given_token(scope)
        return given is not None and secrets.compare_digest(given.encode(), self._token)
