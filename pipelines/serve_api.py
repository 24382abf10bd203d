"""The HTTP API of ``titans-ts serve`` (FastAPI): observations in, forecasts out, over a ``SeriesStore``.

    POST /v1/series/{id}/observations   rows after the series' last one: JSON {"timestamps": [...], "values": {...}}
                                        or CSV text (Content-Type: text/csv); the bearer token when one is set
    GET  /v1/series/{id}/forecast       ?horizon=H (default: the model's), &compare=frozen adds the M_0 forecast
    GET  /v1/series/{id}                rows, last timestamp, blocks read, recent surprise
    GET  /v1/series                     the series ids;  GET /v1/model: columns, grid, lookback, horizon
    GET  /healthz, /readyz              alive; model loaded and database answering
    /docs                               the OpenAPI documentation; /mcp the MCP tools (``pipelines.serve_mcp``)

Every error is ``{"error": "<one line>"}``: 400 unreadable body, 401 missing or wrong token, 404 unknown series,
413 body over the size limit, 415 unknown content type, 422 rows or parameters the model cannot take.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pipelines.series_store import SeriesStore, UnknownSeries
from titans_ts.errors import DataError

OBSERVATION_EXAMPLE = {
    "timestamps": ["2018-06-26 20:00:00", "2018-06-26 21:00:00"],
    "values": {"OT": [9.919, 9.849]},
}


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(store: SeriesStore, token: str | None = None, max_body: int = 4 << 20) -> FastAPI:
    """The API over ``store``; writes need ``Authorization: Bearer <token>`` when ``token`` is set; request bodies
    are refused above ``max_body`` bytes."""
    from pipelines.serve_mcp import bearer_matches, mcp_app

    live, config = store.live, store.live.model.config
    mcp = mcp_app(store, token)
    app = FastAPI(
        title="titans-ts serve",
        summary="Forecasts from a Titans model whose memory keeps learning from each series' observations",
        description=__doc__,
        lifespan=lambda _app: mcp.router.lifespan_context(mcp),
    )
    app.router.routes.extend(mcp.routes)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(DataError)
    async def data_error(_request: Request, err: DataError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=422)

    @app.exception_handler(UnknownSeries)
    async def unknown_series(_request: Request, err: UnknownSeries) -> JSONResponse:
        return JSONResponse({"error": str(err.args[0])}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(_request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        where = " ".join(str(part) for part in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg')}"}, status_code=422)

    def writer(request: Request) -> None:
        if token is not None and not bearer_matches(request.headers.get("authorization", "").encode(), token):
            raise ApiError(
                401, "this service needs 'Authorization: Bearer <token>' on writes; the token was wrong or missing"
            )

    @app.get("/healthz", summary="The process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The model is loaded and the state database answers")
    def readyz() -> JSONResponse:
        try:
            store.check()
        except Exception as err:  # any database failure means not ready
            return JSONResponse({"status": "not ready", "error": str(err).splitlines()[0]}, status_code=503)
        return JSONResponse({"status": "ready", "model": store.fingerprint})

    @app.get("/v1/model", summary="What the model reads and forecasts")
    def model() -> dict[str, Any]:
        return {
            "columns": live.columns,
            "outputs": live.outputs,
            "freq": live.freq,
            "lookback": config.lookback,
            "horizon": config.horizon,
            "variant": config.backbone.variant,
            "fingerprint": store.fingerprint,
        }

    @app.get("/v1/series", summary="The series with observations")
    def series_ids() -> dict[str, list[str]]:
        return {"series": store.series_ids()}

    @app.post(
        "/v1/series/{series_id}/observations",
        summary="Append observed rows to a series; its memory reads every whole block of lookback rows",
        dependencies=[Depends(writer)],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object"}, "example": OBSERVATION_EXAMPLE},
                    "text/csv": {"schema": {"type": "string"}, "example": "date,OT\n2018-06-26 20:00:00,9.919\n"},
                },
            }
        },
    )
    async def observe(series_id: str, request: Request) -> dict[str, Any]:
        payload = await _payload(request, max_body)
        return await run_in_threadpool(store.observe, series_id, payload)

    @app.get("/v1/series/{series_id}/forecast", summary="The next steps from the memory reached so far")
    def forecast(
        series_id: str,
        horizon: int | None = Query(None, ge=1, description="steps ahead (default and at most: the model's)"),
        compare: Literal["frozen"] | None = Query(None, description="'frozen' adds the forecast of memory M_0"),
    ) -> dict[str, Any]:
        return store.forecast(series_id, horizon, compare == "frozen")

    @app.get("/v1/series/{series_id}", summary="Where a series stands: rows, last timestamp, surprise")
    def describe(series_id: str) -> dict[str, Any]:
        return store.describe(series_id)

    return app


async def _payload(request: Request, max_body: int) -> Any:
    """The request body, JSON (parsed) or CSV (text), read up to ``max_body`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise ApiError(413, f"the body has {declared} bytes; this service takes at most {max_body} (--max-body)")
    body = bytearray()
    async for part in request.stream():
        body.extend(part)
        if len(body) > max_body:
            raise ApiError(413, f"the body is over {max_body} bytes, the most this service takes (--max-body)")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("", "application/x-www-form-urlencoded"):  # none given (curl -d sends the latter): by the first byte
        kind = "application/json" if body.lstrip()[:1] in (b"{", b"[") else "text/csv"
    if kind == "text/csv":
        return bytes(body)
    if kind != "application/json":
        raise ApiError(415, f"content type {kind!r}: send application/json or text/csv")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"the body is not JSON: {err}") from err
