"""The dashboard's ASGI app: the page, its assets, the JSON API and a stream of updates."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.views.cells import one_line
from taxi_stream.views.dashboard.data import DashboardData
from taxi_stream.views.dashboard.params import BadRequest, letters_limit, no_params, window_query
from taxi_stream.views.dashboard.rows import Json

STATIC: Final = Path(__file__).parent / "static"
HEADERS: Final = {  # nothing from a record can run as script: no inline script, no framing
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _answer(call: Callable[[Request], Json]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that answers ``call(request)`` as JSON, read off the event loop; a bad
    parameter is a 400 and a store that cannot be read a 503, each with one line."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await run_in_threadpool(call, request)
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except TaxiStreamError as exc:
            return JSONResponse({"error": one_line(str(exc))}, status_code=503)
        return JSONResponse(body)

    return endpoint


def create_app(
    data: DashboardData,
    *,
    interval_s: float = 1.0,
    stopping: threading.Event | None = None,
    extra: dict[str, ASGIApp] | None = None,
) -> Starlette:
    """The app: ``/`` (the page), ``/static``, ``/api/windows``, ``/api/dead-letters``,
    ``/api/health`` and ``/api/updates`` (server-sent events every ``interval_s`` while
    something changed). ``stopping`` ends the updates streams (the server is stopping);
    ``extra`` serves other ASGI apps at exact paths (``/metrics``: path -> app)."""
    stop = stopping or threading.Event()

    def windows(request: Request) -> Json:
        return data.windows(window_query(request.query_params))

    def letters(request: Request) -> Json:
        return list[Json](data.dead_letters(letters_limit(request.query_params)))

    def health(request: Request) -> Json:
        no_params(request.query_params)
        return data.health()

    def update(request: Request) -> Json:
        query = window_query(request.query_params)
        return {"windows": data.windows(query), "health": data.health()}

    async def updates(request: Request) -> Response:
        try:
            window_query(request.query_params)
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return EventSourceResponse(_updates(request, update, interval_s, stop), ping=15)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    routes = [
        Route("/", page),
        Route("/api/windows", _answer(windows)),
        Route("/api/dead-letters", _answer(letters)),
        Route("/api/health", _answer(health)),
        Route("/api/updates", updates),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *(Route(path, _Served(app)) for path, app in (extra or {}).items()),
    ]
    handlers = {404: _not_served, 405: _not_served}
    return Starlette(routes=routes, middleware=[Middleware(Secured)], exception_handlers=handlers)


async def _not_served(request: Request, exc: Exception) -> Response:
    """A 404 or 405: under /api one JSON line, as every other API error; elsewhere the plain
    text the pages always had."""
    assert isinstance(exc, HTTPException)  # the handlers are registered for status codes
    path = request.url.path
    if path != "/api" and not path.startswith("/api/"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 405:
        allowed = ", ".join(sorted((exc.headers or {}).get("Allow", "").split(", ")))
        error = f"{path} takes {allowed}, not {request.method}"
    else:
        error = f"no such endpoint: {path} (there are /api/windows, /api/dead-letters,"
        error += " /api/health and /api/updates)"
    return JSONResponse({"error": one_line(error)}, exc.status_code, headers=exc.headers)


class _Served:
    """Another ASGI app as a route's endpoint (a plain function would be taken for a
    request-to-response endpoint)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request over."""
        await self._app(scope, receive, send)


class Secured:
    """ASGI middleware: every HTTP response carries ``HEADERS``."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self._app(scope, receive, secured)


async def _updates(
    request: Request, update: Callable[[Request], Json], interval_s: float, stop: threading.Event
) -> AsyncIterator[ServerSentEvent]:
    """An ``update`` event whenever the answer changed, checked every ``interval_s``."""
    last = None
    while not stop.is_set() and not await request.is_disconnected():
        try:
            body = json.dumps(await run_in_threadpool(update, request))
        except TaxiStreamError as exc:
            body = json.dumps({"error": one_line(str(exc))})
        if body != last:
            last = body
            yield ServerSentEvent(data=body, event="update")
        await asyncio.sleep(interval_s)
