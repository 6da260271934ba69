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
import json
import math
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import nbformat
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from grader.decisions import Invalid, Stale
from grader.desk.answers import safe_html
from grader.desk.pages import PageWriter
from grader.grading import SOLVED_NOTEBOOK, TEMPLATE_NOTEBOOK
from grader.judge.written import extract_written_answers, question_texts
from grader.points import exact
from grader.result import LATE
from grader.store import ClassStore
from grader.written_answers import WRITTEN_ANONYMISED

HERE = Path(__file__).parent
PAGES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
COOKIE = "messmaster_desk"
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


@dataclass
class Desk:
    """What the app serves: a class store opened without its lock, and the token every request must show."""

    store: ClassStore
    folder: Path
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    lock: threading.Lock = field(default_factory=threading.Lock)  # one decision at a time over one connection

    def __post_init__(self) -> None:
        self.pages = PageWriter(self.folder)
        template = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
        self.questions = question_texts(template)
        self.models = extract_written_answers(nbformat.read(SOLVED_NOTEBOOK, as_version=4), template)

    def shown_as(self, graded: list[str]) -> dict[str, str]:
        """How each graded student is shown: their id, or their stable pseudonym when the class is anonymised."""
        if self.store.setting(WRITTEN_ANONYMISED) == "yes":
            return self.store.pseudonyms(graded)
        return {student: student for student in graded}

    def student_of(self, shown: str) -> str:
        """The graded student shown as `shown` (read from the store's ids alone: a save must not read the class)."""
        found = {name: student for student, name in self.shown_as(sorted(self.store.current_ids())).items()}
        if shown not in found:
            raise Invalid(f"no graded student {shown!r}")
        return found[shown]

    def render_views(self, *students: str) -> None:
        """The files of the students a decision touched, and the class's gradebook and report: written off the
        request, soon after it is answered (`pages.settle()` waits for them)."""
        self.pages.mark(list(students))


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


def _body(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise Invalid("the body is not JSON") from None
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    return body


def _number(body: dict, key: str, required: bool = True) -> float | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid(f"{key} must be a number")
    return float(value)


# what a person's words may be at most, by field: a comment or reason is a paragraph or two, not a file
TEXT_LIMITS = {"comment": 5_000, "reason": 2_000, "by": 100}
MAX_BODY_BYTES = 64 * 1024  # a request's body: far more than any decision needs
PAGES_WAIT_SECONDS = 60  # GET /api/pages waits at most this long for the files to be written


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{key} must be text")
    if value is not None and len(value) > TEXT_LIMITS[key]:
        raise Invalid(f"{key} is {len(value):,} characters; at most {TEXT_LIMITS[key]:,}")
    return value


def _version(body: dict) -> int:
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise Invalid("version must be the version the change is based on (0 for a first score)")
    return version


def _adjustments_shown(adjusted: dict) -> Callable[[str], dict]:
    """The adjustment of an item as the page shows it (version 0 when there is none)."""

    def shown(item: str) -> dict:
        found = adjusted.get(item)
        if found is None:
            return {"points": 0.0, "reason": "", "by": "", "version": 0}
        return {"points": found.points, "reason": found.reason, "by": found.by, "version": found.version}

    return shown


def make_app(desk: Desk) -> Starlette:
    store = desk.store

    def decided(handler):
        """A handler under the desk's lock, its refusals as 409 and 422."""

        def locked(request: Request, raw: bytes) -> Response:
            with desk.lock:
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
        response = HTMLResponse(PAGES.get_template("desk.html.j2").render())
        if request.query_params.get("token") == desk.token:  # the page's own files load with the cookie
            response.set_cookie(COOKIE, desk.token, httponly=True, samesite="strict")
        return response

    def questions(request: Request, raw: bytes) -> Response:
        rows = store.students()
        graded = [row for row in rows if row.result is not None]
        return JSONResponse(
            [
                {
                    "question": question,
                    "points": points,
                    "scored": sum(question in row.result.written_scores for row in graded),
                    "answers": len(graded),
                    "text_html": safe_html(desk.questions.get(question, "")),
                    "model_html": safe_html(desk.models.get(question, "")),
                }
                for question, points in store.rubric.written.items()
            ]
        )

    def answers(request: Request, raw: bytes) -> Response:
        question = request.path_params["question"]
        if question not in store.rubric.written:
            raise Invalid(f"no written question {question!r}")
        rows = store.students()
        shown = desk.shown_as([row.identity.student for row in rows if row.result is not None])
        scores = store.decisions.answer_scores(question)
        anonymised = any(name != student for student, name in shown.items())
        linked = store.linked()
        listed = []
        for row in sorted((r for r in rows if r.result is not None), key=lambda r: shown[r.identity.student]):
            student = row.identity.student
            scored = scores.get(student)
            answer = row.result.written.get(question, "")
            listed.append(
                {
                    "student": shown[student],
                    "name": "" if anonymised else row.identity.name,
                    "answer": answer,
                    "answer_html": safe_html(answer),
                    "score": None if scored is None else scored.score,
                    "comment": "" if scored is None else scored.comment,
                    "items": [] if scored is None else list(scored.items),
                    "adjustment": 0.0 if scored is None else scored.adjustment,
                    "by": "" if scored is None else scored.by,
                    "version": 0 if scored is None else scored.version,
                    "linked": [shown[other] for other in linked.get(student, []) if other in shown],
                }
            )
        return JSONResponse(listed)

    def save_score(request: Request, raw: bytes) -> Response:
        question, body = request.path_params["question"], _body(raw)
        student = desk.student_of(request.path_params["student"])
        items = body.get("items")
        if items is not None and not (isinstance(items, list) and all(type(i) is int for i in items)):
            raise Invalid("items must be a list of rubric item ids")
        if body.get("score") is None and items is None and body.get("adjustment") is None:
            raise Invalid("give a score (or rubric items)")
        by = _text(body, "by") or ""
        saved = store.decisions.score_answer(
            student,
            question,
            _version(body),
            score=_number(body, "score", required=False),
            comment=_text(body, "comment"),
            items=items,
            adjustment=_number(body, "adjustment", required=False),
            by=by,
        )
        # the same file handed in by a group's members: one answer, one score, unless a TA unlinked them
        together = store.linked().get(student, [])
        for other in together:
            current = store.decisions.answer_scores(question).get(other)
            store.decisions.score_answer(
                other,
                question,
                current.version if current else 0,
                score=saved.score,
                comment=saved.comment,
                items=list(saved.items),
                by=by,
            )
        desk.render_views(student, *together)
        shown = desk.shown_as(together)
        return JSONResponse(
            {
                "score": saved.score,
                "comment": saved.comment,
                "items": list(saved.items),
                "adjustment": saved.adjustment,
                "version": saved.version,
                "linked": [shown.get(other, other) for other in together],
            }
        )

    def link(request: Request, raw: bytes) -> Response:
        body = _body(raw)
        student = desk.student_of(request.path_params["student"])
        linked = body.get("linked")
        if not isinstance(linked, bool):
            raise Invalid("linked must be true or false")
        store.set_linked(student, linked, _text(body, "by") or "")
        return JSONResponse({"student": request.path_params["student"], "linked": linked})

    def items(request: Request, raw: bytes) -> Response:
        question = request.path_params["question"]
        listed = store.decisions.items(question)
        uses: dict[int, int] = {}
        for scored in store.decisions.answer_scores(question).values():
            for item_id in scored.items:
                uses[item_id] = uses.get(item_id, 0) + 1
        return JSONResponse(
            [
                {"id": i.id, "points": i.points, "comment": i.comment, "version": i.version, "uses": uses.get(i.id, 0)}
                for i in listed
            ]
        )

    def add_item(request: Request, raw: bytes) -> Response:
        body = _body(raw)
        item = store.decisions.add_item(
            request.path_params["question"], _number(body, "points"), _text(body, "comment") or ""
        )
        return JSONResponse({"id": item.id, "points": item.points, "comment": item.comment, "version": 1}, 201)

    def change_item(request: Request, raw: bytes) -> Response:
        question, body = request.path_params["question"], _body(raw)
        item_id = request.path_params["id"]
        item = store.decisions.change_item(
            question, item_id, _version(body), _number(body, "points"), _text(body, "comment") or ""
        )
        scored = store.decisions.answer_scores(question)
        desk.render_views(*(s for s, answer in scored.items() if item_id in answer.items))  # scored again
        return JSONResponse({"id": item.id, "points": item.points, "comment": item.comment, "version": item.version})

    def students(request: Request, raw: bytes) -> Response:
        rows = store.students()
        listed = []
        for row in rows:
            if row.result is None:
                continue
            result = row.result
            adjusted = store.decisions.adjustments(row.identity.student).get(row.identity.student, {})
            adjustment = _adjustments_shown(adjusted)

            listed.append(
                {
                    "student": row.identity.student,
                    "name": row.identity.name,
                    "items": [
                        {
                            "item": item,
                            "points": spec.points,
                            "earned": exact(sum(t.score for t in result.tests if t.item == item)),
                            "score": result.item_score(item),
                            "adjustment": adjustment(item),
                        }
                        for item, spec in store.rubric.items.items()
                    ],
                    "late_penalty": result.late_penalty,
                    "late": adjustment(LATE),
                    "total": result.total,
                }
            )
        return JSONResponse(listed)

    def adjust(request: Request, raw: bytes) -> Response:
        body = _body(raw)
        student = request.path_params["student"]
        if student not in store.current_ids():
            raise Invalid(f"no graded student {student!r}")
        saved = store.decisions.adjust(
            student,
            request.path_params["item"],
            _version(body),
            _number(body, "points"),
            _text(body, "reason") or "",
            _text(body, "by") or "",
        )
        desk.render_views(student)
        return JSONResponse({"points": saved.points, "reason": saved.reason, "by": saved.by, "version": saved.version})

    async def pages(request: Request) -> Response:
        settled = await run_in_threadpool(desk.pages.settle, PAGES_WAIT_SECONDS)
        return JSONResponse({"written": settled})

    routes = [
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
    app = Starlette(routes=routes)
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
