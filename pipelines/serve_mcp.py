"""The MCP tools of ``titans-ts serve`` (the ``mcp`` SDK, Streamable HTTP at /mcp): ``observe``, ``forecast`` and
``describe_series``, the same calls as the HTTP API on the same ``SeriesStore``, so that an LLM agent can use a
forecaster that remembers what it was shown.

A tool returns the JSON the HTTP API answers for the same call. Bad input (``DataError``) or an unknown series
(``UnknownSeries``) comes back as a tool error (``isError``) whose text holds the store's one-line message. With a
token, every request to /mcp needs ``Authorization: Bearer <token>``, else HTTP 401 ``{"error": ...}``. Without one,
/mcp answers only requests addressed to the loopback host (Host 127.0.0.1, localhost or [::1]; the SDK's
DNS-rebinding protection): serve other machines' agents with a token.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pipelines.series_store import SeriesStore, UnknownSeries
from titans_ts.errors import DataError

# Without a token: only requests addressed to the loopback host. With one, the token is the protection.
LOOPBACK_ONLY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)
ANY_HOST = TransportSecuritySettings(enable_dns_rebinding_protection=False)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The store's anticipated errors as ``ToolError``: the SDK hides the text of any other exception."""
    try:
        yield
    except (DataError, UnknownSeries) as err:
        raise ToolError(str(err)) from err


def mcp_server(store: SeriesStore) -> MCPServer:
    """An MCP server whose tools read and write ``store``."""
    live, config = store.live, store.live.model.config
    server = MCPServer(
        name="titans-ts",
        log_level="WARNING",  # the SDK configures the root logger; tool errors are the caller's, not logged
        instructions=(
            f"A Titans forecaster whose memory learns each series as observations arrive. Series rows hold the "
            f"columns {live.columns} every {live.freq!r}; forecasts are of {live.outputs}, up to {config.horizon} "
            f"steps, once a series holds {config.lookback} rows."
        ),
    )

    # Loose argument types: the store checks every value, with the same messages as the HTTP API.
    @server.tool()
    def observe(series: str, timestamps: list[Any], values: dict[str, list[Any]] | list[Any]) -> dict[str, Any]:
        """Append observed rows to a series (created on first use): timestamps ("2024-01-05 04:00:00") continuing
        after its last row, and values {column: [number per timestamp]} for every model column."""
        with _tool_errors():
            return store.observe(series, {"timestamps": timestamps, "values": values})

    @server.tool()
    def forecast(series: str, horizon: int | None = None, compare_frozen: bool = False) -> dict[str, Any]:
        """The next steps of a series from the memory reached so far (horizon: default and at most the model's);
        compare_frozen adds the forecast of the memory as trained, before reading the series."""
        with _tool_errors():
            return store.forecast(series, horizon, compare_frozen)

    @server.tool()
    def describe_series(series: str) -> dict[str, Any]:
        """Where a series stands: rows observed, last and next timestamps, blocks read into memory, recent surprise."""
        with _tool_errors():
            return store.describe(series)

    return server


def bearer_matches(authorization: bytes, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>`` (compared in constant time): the check of every
    guarded request, HTTP writes and MCP alike."""
    return hmac.compare_digest(authorization, f"Bearer {token}".encode())


class BearerToken:
    """ASGI wrapper answering 401 ``{"error": ...}`` to an HTTP request without ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers", ())).get(b"authorization", b"")
        if scope["type"] == "http" and not bearer_matches(given, self.token):
            message = "this service needs 'Authorization: Bearer <token>' on /mcp; the token was wrong or missing"
            response = JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def mcp_app(store: SeriesStore, token: str | None = None) -> Starlette:
    """The Streamable HTTP app of ``mcp_server(store)``, serving /mcp; its lifespan runs the session manager. Mount
    its routes (each guarded by ``token`` when one is given) and run its lifespan."""
    security = LOOPBACK_ONLY if token is None else ANY_HOST
    app = mcp_server(store).streamable_http_app(streamable_http_path="/mcp", transport_security=security)
    if token is not None:
        for route in app.routes:
            if isinstance(route, Route):
                route.app = BearerToken(route.app, token)
    return app
