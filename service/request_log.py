"""One log line per request and the request id: read from X-Request-Id (the bot's, the console's) or made here.

The id is checked at the edge (at most 64 characters among letters, digits and `._:-`, starting with a letter or a
digit); anything else is replaced by a new one, never refused. It is bound to every log line written while the
request is handled and returned in the response's X-Request-Id. The line names the route's template, never the
path itself or its query string (they may carry identifiers), with the status, the duration, the client kind and
the error code of a refusal.
"""

from __future__ import annotations

import json
import re
import secrets
import time

import structlog
from aiohttp import web

from service.routing import CLIENT_KIND_KEY, Handler

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")  # as conversations/request_ids.py
REQUEST_ID = web.RequestKey("request_id", str)
CANCELLED_STATUS = 499

logger = structlog.stdlib.get_logger("service.requests")


def request_id_of(request: web.Request) -> str:
    """The caller's X-Request-Id when it is well formed, else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if REQUEST_ID_FORMAT.fullmatch(given):
        return given
    return "svc-" + secrets.token_hex(8)


def route_template(request: web.Request) -> str:
    """`/v1/helpdesk/escalations/{escalation_id}`, not the path (no identifier, no query string)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: binds the request id, then logs the request once it is answered."""
    request_id = request[REQUEST_ID] = request_id_of(request)
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        # Unless answered: cancelled (the client went away, or the service stops), 499 as reverse proxies say.
        status, code = CANCELLED_STATUS, "cancelled"
        try:
            response = await handler(request)
            status, code = response.status, error_code(response)
            return response
        except web.HTTPException as exception:  # a redirect or what json_errors lets through
            status, code = exception.status, ""
            raise
        finally:
            fields = {"method": request.method, "route": route_template(request), "status": status}
            if CLIENT_KIND_KEY in request:
                fields["client"] = request[CLIENT_KIND_KEY].value
            if code:
                fields["code"] = code
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            logger.info("request", **fields, duration_ms=duration_ms)


def error_code(response: web.StreamResponse) -> str:
    """The stable error code of a refusal (the JSON error body), "" for a success."""
    if response.status < 400 or not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return ""
    try:
        code = json.loads(response.body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return code if isinstance(code, str) else ""


async def add_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer, event streams included, tells the caller its request id."""
    if REQUEST_ID in request:
        response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
