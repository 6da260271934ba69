"""The TA desk's web app: one page, and the JSON API it and scripts use.

    GET  /api/questions                       each written question: points, answers scored, answers in all
    GET  /api/answers/QUESTION                every graded student's answer, score, comment and version
    PUT  /api/scores/QUESTION/STUDENT         {"score", "comment", "version"} (or "items" and "adjustment")
    GET  /api/items/QUESTION                  the question's rubric items
    POST /api/items/QUESTION                  {"points", "comment"}: a new item
    PUT  /api/items/QUESTION/ID               {"points", "comment", "version"}: every answer with it rescored
    GET  /api/students                        each student's automatic items, with their adjustments
    PUT  /api/adjustments/STUDENT/ITEM        {"points", "reason", "by", "version"}; ITEM may be "late"
    GET  /api/pages                           {"written": true} once the files of every save so far are written
    PUT  /api/links/STUDENT                   {"linked": false}: scored apart from those who handed in the same file

Every request needs the token (401 without): in `Authorization: Bearer TOKEN`,
or, for reading, `?token=` or the cookie the page sets; a request that changes
anything needs the header (a cookie alone never suffices, so another site cannot
make a TA's browser change a score). A save based on a replaced version gets 409
with what is stored now; one out of range or about something unknown gets 422.
Every response carries a Content-Security-Policy that allows no inline script and
no other origin.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from grader.assignment import current_assignment
from grader.decisions import Invalid, Stale
from grader.desk.service import MAX_BODY_BYTES, PAGES_WAIT_SECONDS, Desk, body_of
from grader.store import ClassStore

HERE = Path(__file__).parent
PAGES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
COOKIE = "grader_desk"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's address holds the token
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


class TokenGuard(BaseHTTPMiddleware):
    """The token on every request (a header for anything that changes state), and the headers on every answer."""

    def __init__(self, app, desk: Desk) -> None:
        super().__init__(app)
        self.desk = desk

    def _shown(self, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(given.encode(), self.desk.token.encode())

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else ""
        allowed = self._shown(bearer)
        if request.method in ("GET", "HEAD") and not allowed:
            allowed = self._shown(request.query_params.get("token")) or self._shown(request.cookies.get(COOKIE))
        if not allowed:
            needs = "in an Authorization: Bearer header" if request.method not in ("GET", "HEAD") else ""
            response: Response = JSONResponse(
                {"error": f"the desk's token is needed {needs}".strip()},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response


def _desk(request: Request) -> Desk:
    return request.app.state.desk


def decided(handler: Callable[[Request, bytes], Response]) -> Callable:
    """A handler under the desk's lock, off the event loop, its refusals as 409 and 422, its body bounded."""

    def locked(request: Request, raw: bytes) -> Response:
        with _desk(request).lock:
            return handler(request, raw)

    async def endpoint(request: Request) -> Response:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"the body is over {MAX_BODY_BYTES // 1024} KiB"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"the body is over {MAX_BODY_BYTES // 1024} KiB"}, status_code=413)
        try:  # off the event loop: a save renders pages, and the server keeps answering meanwhile
            return await run_in_threadpool(locked, request, raw)
        except Stale as stale:
            return JSONResponse({"error": str(stale), "current": stale.current}, status_code=409)
        except Invalid as invalid:
            return JSONResponse({"error": str(invalid)}, status_code=422)

    return endpoint


def page(request: Request, raw: bytes) -> Response:
    response = HTMLResponse(PAGES.get_template("desk.html.j2").render(assignment_title=current_assignment().TITLE))
    token = _desk(request).token
    if request.query_params.get("token") == token:  # the page's own files load with the cookie
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response


def questions(request: Request, raw: bytes) -> Response:
    return JSONResponse(_desk(request).question_list())


def answers(request: Request, raw: bytes) -> Response:
    return JSONResponse(_desk(request).answers(request.path_params["question"]))


def save_score(request: Request, raw: bytes) -> Response:
    params = request.path_params
    return JSONResponse(_desk(request).save_score(params["question"], params["student"], body_of(raw)))


def link(request: Request, raw: bytes) -> Response:
    return JSONResponse(_desk(request).set_linked(request.path_params["student"], body_of(raw)))


def items(request: Request, raw: bytes) -> Response:
    return JSONResponse(_desk(request).items(request.path_params["question"]))


def add_item(request: Request, raw: bytes) -> Response:
    return JSONResponse(_desk(request).add_item(request.path_params["question"], body_of(raw)), 201)


def change_item(request: Request, raw: bytes) -> Response:
    params = request.path_params
    return JSONResponse(_desk(request).change_item(params["question"], params["id"], body_of(raw)))


def students(request: Request, raw: bytes) -> Response:
    return JSONResponse(_desk(request).student_list())


def adjust(request: Request, raw: bytes) -> Response:
    params = request.path_params
    return JSONResponse(_desk(request).adjust(params["student"], params["item"], body_of(raw)))


async def pages(request: Request) -> Response:
    settled = await run_in_threadpool(_desk(request).pages.settle, PAGES_WAIT_SECONDS)
    return JSONResponse({"written": settled})


ROUTES = [
    Route("/", decided(page)),
    Route("/api/pages", pages),
    Route("/api/questions", decided(questions)),
    Route("/api/answers/{question}", decided(answers)),
    Route("/api/scores/{question}/{student}", decided(save_score), methods=["PUT"]),
    Route("/api/items/{question}", decided(items)),
    Route("/api/items/{question}", decided(add_item), methods=["POST"]),
    Route("/api/items/{question}/{id:int}", decided(change_item), methods=["PUT"]),
    Route("/api/students", decided(students)),
    Route("/api/adjustments/{student}/{item}", decided(adjust), methods=["PUT"]),
    Route("/api/links/{student}", decided(link), methods=["PUT"]),
    Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
]


def make_app(desk: Desk) -> Starlette:
    app = Starlette(routes=ROUTES)
    app.state.desk = desk
    app.add_middleware(TokenGuard, desk=desk)
    return app


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve_desk(folder: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the desk over the class in `folder` until interrupted; the first line printed is its address with
    the token (as Jupyter does). Port 0 takes a free port."""
    with ClassStore.shared(folder) as store:
        desk = Desk(store, folder)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        # listening before the address is printed: a browser sent there at once waits in the backlog until the
        # server accepts, instead of being refused while the app is still being set up (a busy machine's seconds)
        listening.listen(2048)
        shown = f"[{host}]" if ":" in host else host
        print(f"http://{shown}:{listening.getsockname()[1]}/?token={desk.token}", flush=True)
        if not is_loopback(host):
            print(
                f"warning: the desk listens on {host}, beyond this machine: anyone who has its address and token can "
                "change grades, and the connection is not encrypted",
                file=sys.stderr,
            )
        print(f"the TA desk serves {folder} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        server = uvicorn.Server(uvicorn.Config(make_app(desk), log_level="warning", access_log=False))
        server.run(sockets=[listening])
        desk.pages.close()  # every save's files written before the desk ends
