"""Error answers: their JSON body, their place in the OpenAPI document, and a 405's complete Allow header."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

MEANINGS = {
    400: "The body is not JSON in UTF-8, or the redirect is not allowed; nothing was changed.",
    401: "A valid token is required: `Authorization: Bearer <token>` or `?token=<token>`.",
    413: "The request body is larger than `api.max_body_bytes`; it was not read.",
    429: "Too many live-event streams open (from this address, or in all).",
    503: "Nothing was changed: the broker is not connected, the controller is not online, or its state is unknown.",
}


class ErrorBody(BaseModel):
    """An error: what went wrong."""

    detail: str = Field(description="What went wrong, for a person to read.")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of these error codes: JSON ``{"detail": "..."}``, whatever the operation answers."""
    content = {"application/json": {"schema": ErrorBody.model_json_schema()}}
    return {code: {"description": MEANINGS[code], "content": content} for code in codes}


def error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error answer as FastAPI gives it, for the middlewares that answer before the app."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def method_not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
    """405 with every method the path has in ``Allow`` (Starlette names only those of its first route)."""
    methods = {
        method
        for route in request.app.router.routes
        if route.matches(request.scope)[0] is not Match.NONE
        for method in getattr(route, "methods", None) or ()
    }
    headers = {"Allow": ", ".join(sorted(methods))} if methods else exc.headers
    return JSONResponse({"detail": exc.detail}, status_code=405, headers=headers)
