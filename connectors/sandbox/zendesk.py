"""The Zendesk Support API v2 emulator: a Starlette app over an in-memory seeded account.

``create_app(company, knobs)`` serves the endpoints a migration needs, read and write, with the
real envelopes, errors, rate-limit headers and background jobs (reference: zendesk-api.md).
Credentials: basic ``admin@sandbox.test/token:sandbox-token`` or ``Bearer sandbox-oauth``.
Control endpoints (no auth, not part of Zendesk): ``GET /_sandbox/stats``,
``GET /_sandbox/counts``, ``POST /_sandbox/reset``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .common import Limiter, SandboxKnobs
from .seed import Company
from .zendesk_gate import OAUTH, TOKEN, USER, ZendeskGate, bucket_limits
from .zendesk_http import ZendeskError, respond
from .zendesk_jobs import JobQueue
from .zendesk_routes_export import EXPORT_ROUTES
from .zendesk_routes_import import IMPORT_ROUTES
from .zendesk_routes_read import READ_ROUTES, download
from .zendesk_routes_tickets import TICKET_ROUTES
from .zendesk_routes_write import WRITE_ROUTES
from .zendesk_store import ZendeskStore

__all__ = ["create_app", "create_cdn_app", "CREDENTIALS"]

CREDENTIALS = {"email": USER, "api_token": TOKEN, "oauth_token": OAUTH}


async def _zendesk_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZendeskError)
    if isinstance(exc.body, str):  # e.g. 409 collisions and 429s are text/plain
        return Response(exc.body, status_code=exc.status, headers=exc.headers,
                        media_type="text/plain; charset=utf-8")
    return respond(request, exc.body, exc.status, exc.headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "InvalidEndpoint", "description": "Not found"},
                        status_code=404)


async def _method(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "InvalidEndpoint", "description": "Method not allowed"},
                        status_code=405)


def _control_routes() -> list[Route]:
    async def stats(request: Request) -> Response:
        store, knobs = request.app.state.store, request.app.state.knobs
        return JSONResponse({"buckets": request.app.state.limiter.stats(),
                             "faults": dict(knobs.faults.counts),
                             "requests": store.requests,
                             "jobs": {"total": len(store.jobs.jobs),
                                      "active": store.jobs.active(),
                                      "rejected": store.jobs.rejected}})

    async def counts(request: Request) -> Response:
        return JSONResponse(request.app.state.store.counts())

    async def reset(request: Request) -> Response:
        state = request.app.state
        state.store.reset()
        state.store.jobs = JobQueue(state.store, state.knobs)
        state.limiter.reset_stats()
        return JSONResponse({"reset": True, "counts": state.store.counts()})

    return [Route("/_sandbox/stats", stats), Route("/_sandbox/counts", counts),
            Route("/_sandbox/reset", reset, methods=["POST"])]


def _download_routes() -> list[Route]:
    return [Route("/attachments/token/{token}/", download),
            Route("/attachments/token/{token}", download)]


def create_app(company: Company | None, knobs: SandboxKnobs | None = None) -> Starlette:
    """The emulator as a Starlette app (``.state.store``, ``.state.knobs``, ``.state.limiter``).

    Raises:
        ConfigError: ``knobs.plan`` is not a Zendesk plan.
    """
    knobs = knobs or SandboxKnobs()
    limiter = Limiter(bucket_limits(knobs), window=knobs.window)
    store = ZendeskStore(company)
    store.jobs = JobQueue(store, knobs)
    # The gate is a plain ASGI middleware inside Starlette's error middleware, so an injected
    # DropConnection after the response started closes the socket (a transport error).
    app = Starlette(routes=[*_control_routes(), *_download_routes(), *EXPORT_ROUTES,
                            *READ_ROUTES, *WRITE_ROUTES, *IMPORT_ROUTES,
                            *TICKET_ROUTES],
                    middleware=[Middleware(ZendeskGate, knobs=knobs, limiter=limiter,
                                           store=store)],
                    exception_handlers={ZendeskError: _zendesk_error, 404: _not_found,
                                        405: _method})
    app.state.store, app.state.knobs, app.state.limiter = store, knobs, limiter
    return app


def create_cdn_app(store: ZendeskStore) -> Starlette:
    """A second app serving only attachment downloads: a foreign host, like Zendesk's CDN."""
    app = Starlette(routes=_download_routes())
    app.state.store = store
    return app
