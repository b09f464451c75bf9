"""HTTP basic auth for the dashboard (INFSCALE_DASHBOARD_AUTH=user:password), as Flower has.

A plain ASGI middleware: every HTTP request, pages, static files and JSON alike, needs the
credentials; anything else gets 401 with a challenge, so a browser asks for them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class BasicAuth:
    def __init__(self, app: ASGIApp, credentials: tuple[str, str]) -> None:
        self.app = app
        self.expected = _token(*credentials)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        await send({
            "type": "http.response.start", "status": 401,
            "headers": [(b"www-authenticate", b'Basic realm="infscale"'), (b"content-type", b"text/plain")],
        })
        await send({"type": "http.response.body", "body": b"401: credentials required (INFSCALE_DASHBOARD_AUTH)\n"})

    def _authorised(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self.expected)  # constant time: no timing hint


def _token(user: str, password: str) -> bytes:
    return f"{user}:{password}".encode()
