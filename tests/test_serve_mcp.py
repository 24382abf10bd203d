"""The MCP tools of ``titans-ts serve`` (``pipelines.serve_mcp``): in process against the HTTP API on one store, then
Streamable HTTP at /mcp of the real server, with and without its token."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from pipelines.series_store import SeriesStore, database_url
from pipelines.serve_api import create_app
from pipelines.serve_mcp import mcp_server
from tests.serving import LOOKBACK, observation, server, tiny_live_model

TOOLS = {"observe", "forecast", "describe_series"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def bad_observations() -> dict[str, dict]:
    """Observations the store refuses (after ``observation(0, 2 * LOOKBACK)``), by what is wrong."""
    text = observation(2 * LOOKBACK, 3)
    text["values"]["load"][1] = "12.5"
    repeated = observation(2 * LOOKBACK, 3)
    repeated["timestamps"][2] = repeated["timestamps"][1]
    earlier = observation(LOOKBACK, 2)
    return {"text value": text, "repeated timestamp": repeated, "earlier rows": earlier}


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """Whether the call failed, and its JSON result (or its error text)."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text
    if result.is_error:
        return True, text
    assert json.loads(text) == result.structured_content  # the text is the same JSON as the structured result
    return False, result.structured_content


async def compare_with_api(client: Client, get: Callable[[str], Any], post: Callable[[str, dict], Any]) -> None:
    """Tools and HTTP API (``get(path) -> response``, ``post(path, json) -> response``) over one store agree."""
    assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
    failed, observed = await call(client, "observe", series="m1", **observation(0, 2 * LOOKBACK))
    assert not failed and observed["rows"] == 2 * LOOKBACK and observed["blocks_read"] == 1
    for arguments, query in [({}, ""), ({"horizon": 2, "compare_frozen": True}, "?horizon=2&compare=frozen")]:
        failed, forecast = await call(client, "forecast", series="m1", **arguments)
        assert not failed and forecast == get(f"/v1/series/m1/forecast{query}").json()
    assert len(forecast["timestamps"]) == 2 and "frozen" in forecast
    failed, described = await call(client, "describe_series", series="m1")
    assert not failed and described == get("/v1/series/m1").json() and described["rows"] == 2 * LOOKBACK

    for what, payload in bad_observations().items():
        failed, text = await call(client, "observe", series="m1", **payload)
        refused = post("/v1/series/m1/observations", payload)
        assert failed and refused.status_code == 422, what
        assert refused.json()["error"] in text and "\n" not in text, what  # the store's one-line message
    failed, text = await call(client, "forecast", series="m1", horizon=LOOKBACK)
    assert failed and get(f"/v1/series/m1/forecast?horizon={LOOKBACK}").json()["error"] in text
    failed, text = await call(client, "describe_series", series="nobody")
    assert failed and get("/v1/series/nobody").json()["error"] in text
    failed, described = await call(client, "describe_series", series="m1")
    assert not failed and described["rows"] == 2 * LOOKBACK  # nothing refused was kept


def test_tools_answer_as_the_http_api_in_process(tmp_path: Path) -> None:
    live = tiny_live_model(tmp_path / "model.pt")
    store = SeriesStore(live, database_url(str(tmp_path / "state.db")))
    api = TestClient(create_app(store))  # its lifespan (the MCP session manager) is not needed in process

    async def test() -> None:
        async with Client(mcp_server(store)) as client:
            await compare_with_api(client, api.get, lambda path, body: api.post(path, json=body))

    try:
        anyio.run(test)
    finally:
        store.close()


def test_streamable_http_at_mcp_of_the_server(tmp_path: Path) -> None:
    tiny_live_model(tmp_path / "model.pt")
    with server(tmp_path / "model.pt", tmp_path / "state.db") as (url, _):
        with httpx.Client(base_url=url, timeout=60) as http:

            async def test() -> None:
                async with Client(f"{url}/mcp") as client:
                    await compare_with_api(client, http.get, lambda path, body: http.post(path, json=body))

            anyio.run(test)
            # Without a token, only requests addressed to the loopback host (DNS-rebinding protection).
            rebound = http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": "attacker.example"})
            assert rebound.status_code == 421


def test_with_a_token_mcp_needs_it(tmp_path: Path) -> None:
    tiny_live_model(tmp_path / "model.pt")
    with server(tmp_path / "model.pt", tmp_path / "state.db", "--token", "secret") as (url, _):
        for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "secret"}]:
            refused = httpx.post(f"{url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=60)
            assert refused.status_code == 401 and "Bearer <token>" in refused.json()["error"]
        assert httpx.get(f"{url}/mcp", headers=MCP_HEADERS, timeout=60).status_code == 401

        async def without() -> None:
            async with Client(f"{url}/mcp") as client:
                await client.list_tools()

        with pytest.raises(Exception):  # noqa: B017 (the SDK raises an ExceptionGroup around an MCPError)
            anyio.run(without)

        async def with_token() -> None:
            async with create_mcp_http_client(headers={"Authorization": "Bearer secret"}) as http:
                async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                    assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
                    failed, observed = await call(client, "observe", series="m1", **observation(0, 3))
                    assert not failed and observed["rows"] == 3

        anyio.run(with_token)
        assert httpx.get(f"{url}/v1/series/m1", timeout=60).json()["rows"] == 3
