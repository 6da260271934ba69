"""The TA desk's JSON API, in process (Starlette's test client over a real class store): the token, versions
(409), validation (422), rubric items re-weighting answers, adjustments of automatic items in every view, the
sheet agreeing with the desk, and a grading run holding the class meanwhile."""

from __future__ import annotations

import csv
import json

import pytest
from starlette.testclient import TestClient

from grader import cli
from grader.desk.app import Desk, make_app
from grader.intake import Identity, Submission
from grader.store import ClassStore, current_versions

from ..helpers import STUDENTS, make_desk_class


@pytest.fixture
def desk(tmp_path, rubric):
    make_desk_class(tmp_path, rubric, STUDENTS)
    with ClassStore.shared(tmp_path) as store:
        served = Desk(store, tmp_path)
        client = TestClient(make_app(served))
        client.headers["Authorization"] = f"Bearer {served.token}"
        yield served, client
        served.pages.close()


def unauthorised(client: TestClient) -> TestClient:
    bare = TestClient(client.app)
    return bare


def test_every_request_needs_the_token_and_a_change_needs_it_in_a_header(desk):
    served, client = desk
    bare = unauthorised(client)
    assert bare.get("/api/questions").status_code == 401
    assert bare.get("/").status_code == 401
    assert bare.get("/static/desk.js").status_code == 401
    assert bare.get("/api/questions", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert bare.get(f"/api/questions?token={served.token}").status_code == 200
    page = bare.get(f"/?token={served.token}")
    assert page.status_code == 200 and "grader_desk" in page.headers["set-cookie"]
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]
    assert bare.get("/static/desk.js").status_code == 200  # the page's own files, with its cookie
    body = {"score": 1, "comment": "", "version": 0}
    for how in ({"params": {"token": served.token}}, {}):  # the cookie is still set on `bare`
        assert bare.put("/api/scores/q1a/ada", json=body, **how).status_code == 401
    assert client.put("/api/scores/q1a/ada", json=body).status_code == 200


def test_every_answer_carries_the_policy_that_forbids_inline_scripts(desk):
    _, client = desk
    for path in ("/", "/api/questions", "/static/desk.js"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert unauthorised(client).get("/").headers["referrer-policy"] == "no-referrer"


def test_questions_and_answers_as_documented(desk, rubric):
    _, client = desk
    questions = client.get("/api/questions").json()
    assert [q["question"] for q in questions] == list(rubric.written)
    q1a = questions[0]
    assert (q1a["points"], q1a["scored"], q1a["answers"]) == (rubric.written["q1a"], 0, 3)
    answers = client.get("/api/answers/q1a").json()
    assert [a["student"] for a in answers] == ["ada", "bo", "cy"]
    assert {"student", "answer", "score", "comment", "version"} <= set(answers[0])
    assert answers[0]["answer"] == STUDENTS["ada"][1] and answers[0]["version"] == 0 and answers[0]["score"] is None
    assert "<math" in answers[1]["answer_html"] and "<em>generalise</em>" in answers[1]["answer_html"]
    assert client.get("/api/answers/q9").status_code == 422


def test_a_save_over_a_newer_version_is_refused_and_nothing_is_lost(desk, tmp_path):
    _, client = desk
    first = client.put("/api/scores/q1a/ada", json={"score": 2, "comment": "good", "version": 0, "by": "ta1"})
    assert first.status_code == 200 and first.json()["version"] == 1
    stale = client.put("/api/scores/q1a/ada", json={"score": 0, "comment": "bad", "version": 0, "by": "ta2"})
    assert stale.status_code == 409
    assert stale.json()["current"] == {"score": 2.0, "comment": "good", "version": 1} and "ta1" in stale.json()["error"]
    answers = client.get("/api/answers/q1a").json()
    assert (answers[0]["score"], answers[0]["comment"], answers[0]["version"]) == (2.0, "good", 1)
    assert client.get("/api/pages").json() == {"written": True}  # the files follow the save
    feedback = json.loads((tmp_path / "ada" / "results.json").read_text())
    assert next(t for t in feedback["tests"] if t["name"] == "written.q1a")["score"] == 2


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/scores/q1a/ada", {"score": 3, "version": 0}),  # q1a is worth 2
        ("/api/scores/q1a/ada", {"score": -1, "version": 0}),
        ("/api/scores/q1a/ada", {"score": "two", "version": 0}),
        ("/api/scores/q1a/ada", {"score": 1}),
        ("/api/scores/q1a/ada", {"score": 1, "version": "0"}),
        ("/api/scores/q9/ada", {"score": 1, "version": 0}),
        ("/api/scores/q1a/nobody", {"score": 1, "version": 0}),
        ("/api/scores/q1a/ada", {"score": 1, "version": 0, "items": [99]}),
        ("/api/adjustments/ada/backward", {"points": 1, "reason": "", "by": "ta", "version": 0}),
        ("/api/adjustments/ada/no_such_item", {"points": 1, "reason": "why", "by": "ta", "version": 0}),
        ("/api/adjustments/ada/backward", {"points": 99, "reason": "why", "by": "ta", "version": 0}),
    ],
)
def test_out_of_range_or_unknown_is_422(desk, path, body):
    _, client = desk
    assert client.put(path, json=body).status_code == 422
    assert client.put("/api/scores/q1a/ada", content=b"{not json").status_code == 422


def test_a_rubric_item_applied_to_many_answers_and_reweighted_moves_them_all(desk, tmp_path):
    _, client = desk
    made = client.post("/api/items/q1a", json={"points": 1, "comment": "names the test set's role"})
    assert made.status_code == 201
    item = made.json()
    for student in ("ada", "bo"):
        saved = client.put(f"/api/scores/q1a/{student}", json={"items": [item["id"]], "version": 0, "by": "ta1"})
        assert saved.json()["score"] == 1
    plus = client.put("/api/scores/q1a/bo", json={"adjustment": 0.5, "version": 1, "by": "ta1"}).json()
    assert plus["score"] == 1.5 and plus["items"] == [item["id"]]
    changed = client.put(f"/api/items/q1a/{item['id']}", json={"points": 1.5, "comment": "x", "version": 1})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    answers = {a["student"]: a for a in client.get("/api/answers/q1a").json()}
    assert (answers["ada"]["score"], answers["bo"]["score"], answers["cy"]["score"]) == (1.5, 2.0, None)
    assert answers["ada"]["version"] == 2 and answers["bo"]["version"] == 3  # a page opened before cannot save
    stale = client.put(f"/api/items/q1a/{item['id']}", json={"points": 0.5, "comment": "y", "version": 1})
    assert stale.status_code == 409
    assert client.get("/api/items/q1a").json()[0]["uses"] == 2
    assert client.get("/api/pages").json() == {"written": True}  # the files follow the save
    gradebook = {row["student"]: row for row in csv.DictReader(open(tmp_path / "gradebook.csv"))}
    assert float(gradebook["bo"]["written"]) == 2.0


def test_an_adjustment_shows_everywhere_with_who_and_survives_a_regrade(desk, tmp_path, rubric):
    _, client = desk
    body = {"points": 2.5, "reason": "regrade request upheld", "by": "Grace (TA)", "version": 0}
    saved = client.put("/api/adjustments/ada/backward", json=body)
    assert saved.status_code == 200 and saved.json()["version"] == 1
    students = {s["student"]: s for s in client.get("/api/students").json()}
    backward = next(i for i in students["ada"]["items"] if i["item"] == "backward")
    assert (backward["earned"], backward["score"]) == (0.0, 2.5)
    assert client.get("/api/pages").json() == {"written": True}  # the files follow the save
    results = json.loads((tmp_path / "ada" / "results.json").read_text())
    adjustment = next(t for t in results["tests"] if t["name"] == "backward.adjustment")
    assert all(t["name"].split(".")[0] in {*rubric.items, "written"} for t in results["tests"])  # the contract
    assert adjustment["score"] == 2.5 and "Grace (TA)" in adjustment["output"] and "upheld" in adjustment["output"]
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert "Grace (TA)" in (tmp_path / "ada" / "feedback.html").read_text()
    assert "regrade request upheld" in (tmp_path / "ada" / "feedback.md").read_text()
    row = next(r for r in csv.DictReader(open(tmp_path / "gradebook.csv")) if r["student"] == "ada")
    full, backward_points = rubric.automatic_total, rubric.items["backward"].points
    assert (
        float(row["backward"]) == 2.5
        and float(row["total"]) == full - backward_points + 2.5
        and "Grace" in row["adjustments"]
    )
    assert client.put("/api/adjustments/ada/backward", json=body).status_code == 409
    # a regrade (a new grading of the same student) keeps the adjustment: it is not part of the grading
    with ClassStore.open(tmp_path, rubric) as store:
        versions = current_versions(rubric)
        regraded = store.current("ada")
        store.record(store.begin_run(versions), Submission(Identity("ada"), None), "again", versions, regraded)
        assert store.current("ada").item_score("backward") == 2.5
    canvas = tmp_path / "canvas.csv"
    assert cli.main(["export", "canvas", str(tmp_path), "--out", str(canvas)]) == 0
    ada = next(r for r in csv.reader(open(canvas)) if len(r) > 1 and r[1] == "ada")
    assert f"{full - backward_points + 2.5:g}" in ada


def test_the_sheet_agrees_with_the_desk(desk, tmp_path, capsys):
    _, client = desk
    assert cli.main(["written", "export", str(tmp_path)]) == 0
    sheet = tmp_path / "written" / "written_scores.csv"
    exported = sheet.read_text()
    assert "ada,Ada Lovelace,q1a,,,2,0" in exported
    sheet.write_text(exported.replace("ada,Ada Lovelace,q1a,,,2,0", "ada,Ada Lovelace,q1a,1,offline,2,0"))
    assert client.put("/api/scores/q1a/ada", json={"score": 2, "comment": "desk", "version": 0}).status_code == 200
    # the sheet filled in offline, imported after the desk saved: its row for ada is left as the desk has it, named
    assert cli.main(["written", "import", str(tmp_path), str(sheet)]) == 0
    assert "ada q1a" in capsys.readouterr().out
    assert client.get("/api/answers/q1a").json()[0]["score"] == 2.0
    # exported again, the sheet holds the desk's score and its version; the old one's row is no unimported edit
    sheet.write_text(exported)
    assert cli.main(["written", "export", str(tmp_path)]) == 0
    rows = {(r["student"], r["question"]): r for r in csv.DictReader(open(sheet))}
    assert (rows[("ada", "q1a")]["score"], rows[("ada", "q1a")]["version"]) == ("2", "1")
    # a TA's edit of the current sheet is imported, and moves the version on for the desk
    lines = sheet.read_text().replace("ada,Ada Lovelace,q1a,2,desk", "ada,Ada Lovelace,q1a,1,sheet")
    sheet.write_text(lines)
    assert cli.main(["written", "import", str(tmp_path), str(sheet)]) == 0
    answer = client.get("/api/answers/q1a").json()[0]
    assert (answer["score"], answer["comment"], answer["version"]) == (1.0, "sheet", 2)
    # an offline edit of bo's answer, then bo scored at the desk, then the sheet exported again: the edit is named
    lines = sheet.read_text().replace("bo,Bo Diddley,q1a,,,2,0", "bo,Bo Diddley,q1a,0.5,offline,2,0")
    sheet.write_text(lines)
    assert client.put("/api/scores/q1a/bo", json={"score": 2, "comment": "desk", "version": 0}).status_code == 200
    capsys.readouterr()
    assert cli.main(["written", "export", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert "1 row(s) of the old sheet" in said and "not carried over" in said and "): bo q1a\n" in said
    saved = sorted((tmp_path / "written").glob("written_scores-before-*.csv"))
    assert any("bo,Bo Diddley,q1a,0.5,offline" in sheet.read_text() for sheet in saved)


def test_anonymised_students_are_shown_and_scored_by_their_pseudonyms(desk, tmp_path):
    served, client = desk
    assert cli.main(["written", "export", str(tmp_path), "--anonymise"]) == 0
    answers = client.get("/api/answers/q1a").json()
    assert all(a["student"].startswith("anon-") and a["name"] == "" for a in answers)
    first = answers[0]["student"]
    assert client.put(f"/api/scores/q1a/{first}", json={"score": 1, "version": 0}).status_code == 200
    assert client.put("/api/scores/q1a/ada", json={"score": 1, "version": 0}).status_code == 422


def test_a_grading_run_may_hold_the_class_while_the_desk_saves(desk, tmp_path, rubric):
    _, client = desk
    with ClassStore.open(tmp_path, rubric):  # what a grading run holds for its whole length
        assert client.put("/api/scores/q1a/ada", json={"score": 1, "version": 0}).status_code == 200


def test_a_folder_without_a_class_is_refused_with_a_reason(tmp_path, capsys):
    assert cli.main(["desk", str(tmp_path)]) == 2
    assert "holds no grades.sqlite: grade into it first" in capsys.readouterr().err


def test_a_late_penalty_given_back_is_said_in_the_results_not_made_a_test(desk, tmp_path):
    _, client = desk
    body = {"points": 3, "reason": "illness, documented", "by": "Grace (TA)", "version": 0}
    assert client.put("/api/adjustments/bo/late", json=body).status_code == 200
    assert client.get("/api/pages").json() == {"written": True}  # the files follow the save
    results = json.loads((tmp_path / "bo" / "results.json").read_text())
    assert "the late penalty +3 points, by Grace (TA)" in results["output"]
    assert not [t for t in results["tests"] if "late" in t["name"] or "adjustment" in t["name"]]


def test_a_store_of_older_days_opens_at_the_desk_with_its_scores(tmp_path, rubric):
    """A class graded and scored before the desk (no versions, adjustments, code columns) is migrated once when
    opened: its TAs' scores stand, as adjustments, at version 1."""
    import sqlite3

    make_desk_class(tmp_path, rubric, STUDENTS)
    with ClassStore.open(tmp_path, rubric) as store:
        store.set_written_scores([("ada", "q1a", 1.5, "fine")])
    with sqlite3.connect(tmp_path / "grades.sqlite") as db:
        for table, column in [("written_scores", c) for c in ("adjustment", "version", "scored_by")] + [
            ("gradings", c) for c in ("code", "wrong_outputs", "plots")
        ]:
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute("PRAGMA user_version = 0")  # made before stores were numbered
    with ClassStore.shared(tmp_path) as store:
        client = TestClient(make_app(served := Desk(store, tmp_path)))
        client.headers["Authorization"] = f"Bearer {served.token}"
        ada = client.get("/api/answers/q1a").json()[0]
        assert (ada["score"], ada["adjustment"], ada["version"], ada["comment"]) == (1.5, 1.5, 1, "fine")
        assert client.put("/api/scores/q1a/ada", json={"score": 2, "version": 1}).status_code == 200
        served.pages.close()


def moved(rubric, **written):
    """The rubric with some written questions worth other points (and the total following)."""
    import dataclasses

    points = {**rubric.written, **written}
    return dataclasses.replace(rubric, written=points, total=rubric.automatic_total + sum(points.values()))


def test_a_desk_left_open_across_a_rubric_change_judges_and_writes_under_the_new_one(desk, rubric, tmp_path):
    served, client = desk
    assert client.put("/api/scores/q1a/ada", json={"score": 3, "comment": "", "version": 0}).status_code == 422
    new = moved(rubric, q1a=4.0)
    with ClassStore.open(tmp_path) as other:  # `grade --change-rubric` in another process, the desk still open
        other.set_class_rubric(new)
    assert client.get("/api/questions").json()[0]["points"] == 4
    saved = client.put("/api/scores/q1a/ada", json={"score": 3, "comment": "", "version": 0})
    assert saved.status_code == 200, saved.text
    assert client.put("/api/scores/q1a/bo", json={"score": 4.5, "comment": "", "version": 0}).status_code == 422
    assert client.get("/api/pages").json() == {"written": True}  # the files follow the save
    with open(tmp_path / "gradebook.csv", newline="", encoding="utf-8") as f:
        ada = next(row for row in csv.DictReader(f) if row["student"] == "ada")
    assert ada["written_max"] == str(int(new.written_total)) and ada["written"] == "3"
    results = json.loads((tmp_path / "ada" / "results.json").read_text())
    q1a = next(t for t in results["tests"] if t["name"] == "written.q1a")
    assert (q1a["score"], q1a["max_score"]) == (3, 4)


def test_lowering_a_questions_points_holds_the_scores_above_them(desk, rubric, tmp_path):
    _, client = desk
    for student, score in (("ada", 6), ("bo", 4), ("cy", 5.5)):
        assert client.put(f"/api/scores/q1d/{student}", json={"score": score, "version": 0}).status_code == 200
    with ClassStore.open(tmp_path, moved(rubric, q1d=5.0)) as store:
        store.set_class_rubric(store.rubric)
        held = store.decisions.hold_to_points()
        assert held == [("ada", "q1d", 6, 5), ("cy", "q1d", 5.5, 5)]
        assert {s: a.score for s, a in store.decisions.answer_scores("q1d").items()} == {"ada": 5, "bo": 4, "cy": 5}
        assert store.decisions.hold_to_points() == []  # nothing above any more
    answers = {a["student"]: a for a in client.get("/api/answers/q1d").json()}
    assert answers["ada"]["score"] == 5 and answers["ada"]["version"] == 2


def test_every_text_and_number_at_the_desk_is_bounded(desk, tmp_path):
    _, client = desk
    huge = client.put("/api/scores/q1a/ada", json={"score": 1, "comment": "x" * 1_000_000, "version": 0})
    assert huge.status_code == 413
    long = client.put("/api/scores/q1a/ada", json={"score": 1, "comment": "x" * 10_000, "version": 0})
    assert long.status_code == 422 and "at most 5,000" in long.json()["error"]
    item = client.post("/api/items/q1a", json={"points": 1, "comment": "y" * 6_000})
    assert item.status_code == 422
    far = client.put("/api/scores/q1a/ada", json={"adjustment": 1e9, "version": 0})
    assert far.status_code == 422
    reason = client.put(
        "/api/adjustments/ada/loss_fn", json={"points": 1, "reason": "z" * 3_000, "by": "ta", "version": 0}
    )
    assert reason.status_code == 422
    for number in ("NaN", "Infinity"):
        raw = f'{{"score": {number}, "comment": "", "version": 0}}'
        sent = client.put("/api/scores/q1a/ada", content=raw, headers={"Content-Type": "application/json"})
        assert sent.status_code == 422
    assert client.put("/api/scores/q1a/ada", json={"score": 1, "comment": "ok", "version": 0}).status_code == 200
    newer = client.put("/api/scores/q1a/ada", json={"score": 2, "comment": "", "version": 6})
    assert newer.status_code == 422 and "was never saved" in newer.json()["error"]
    assert len((tmp_path / "ada" / "results.json").read_bytes()) < 200_000


def test_a_save_never_waits_for_pages_and_the_last_save_is_always_written(desk, tmp_path, monkeypatch):
    """The page writer held up (as a busy machine would): saves are answered meanwhile; a burst of them is written
    in one round or two, ending with the last one's score."""
    import threading

    from grader.desk import pages

    served, client = desk
    release, rounds = threading.Event(), []
    real = pages.write_class_views

    def held(store, rubric, out):
        rounds.append(1)
        release.wait()
        real(store, rubric, out)

    monkeypatch.setattr(pages, "write_class_views", held)
    version = 0
    for score in (0.5, 1, 1.5, 2, 0.5, 1.5):  # answered while the first round is held up
        saved = client.put("/api/scores/q1a/ada", json={"score": score, "comment": f"{score}", "version": version})
        assert saved.status_code == 200
        version = saved.json()["version"]
    release.set()
    assert client.get("/api/pages").json() == {"written": True}
    assert len(rounds) <= 2  # coalesced: not one round per save
    results = json.loads((tmp_path / "ada" / "results.json").read_text())
    assert next(t for t in results["tests"] if t["name"] == "written.q1a")["score"] == 1.5
    with open(tmp_path / "gradebook.csv", newline="", encoding="utf-8") as f:
        assert next(r for r in csv.DictReader(f) if r["student"] == "ada")["written"] == "1.5"


def test_a_groups_identical_answers_are_linked_and_scored_together_unless_unlinked(tmp_path, rubric):
    """Canvas gives each member of a group the group's file: dee handed in ada's."""
    make_desk_class(tmp_path, rubric, STUDENTS | {"dee": ("Dee Dee", STUDENTS["ada"][1])}, same_file={"dee": "ada"})
    with ClassStore.shared(tmp_path) as store:
        served = Desk(store, tmp_path)
        client = TestClient(make_app(served))
        client.headers["Authorization"] = f"Bearer {served.token}"
        answers = {a["student"]: a for a in client.get("/api/answers/q1a").json()}
        assert (answers["ada"]["linked"], answers["dee"]["linked"], answers["bo"]["linked"]) == (["dee"], ["ada"], [])
        saved = client.put("/api/scores/q1a/ada", json={"score": 1.5, "comment": "the group's", "version": 0})
        assert saved.status_code == 200 and saved.json()["linked"] == ["dee"]
        answers = {a["student"]: a for a in client.get("/api/answers/q1a").json()}
        assert (answers["dee"]["score"], answers["dee"]["comment"]) == (1.5, "the group's")
        assert client.get("/api/pages").json() == {"written": True}
        dee = json.loads((tmp_path / "dee" / "results.json").read_text())
        assert next(t for t in dee["tests"] if t["name"] == "written.q1a")["score"] == 1.5
        # a TA scores dee apart: ada's next score leaves dee's as it was
        assert client.put("/api/links/dee", json={"linked": False, "by": "Grace"}).status_code == 200
        assert client.put("/api/links/dee", json={"linked": "no"}).status_code == 422
        assert client.put("/api/scores/q1a/ada", json={"score": 2, "version": 1}).json()["linked"] == []
        answers = {a["student"]: a for a in client.get("/api/answers/q1a").json()}
        assert (answers["ada"]["score"], answers["dee"]["score"], answers["ada"]["linked"]) == (2.0, 1.5, [])
        served.pages.close()


def test_the_desks_decisions_are_plain_calls_without_http(desk):
    """The service layer the app's handlers call: answers and refusals as data and exceptions, no request."""
    from grader.decisions import Invalid, Stale

    served, client = desk
    first = served.answers("q1a")[0]
    saved = served.save_score("q1a", first["student"], {"score": 1, "comment": "ok", "version": first["version"]})
    assert (saved["score"], saved["comment"], saved["version"]) == (1, "ok", first["version"] + 1)
    assert served.answers("q1a")[0]["score"] == 1 == client.get("/api/answers/q1a").json()[0]["score"]
    with pytest.raises(Stale):
        served.save_score("q1a", first["student"], {"score": 2, "version": first["version"]})
    with pytest.raises(Invalid, match="no written question"):
        served.answers("q9")
    with pytest.raises(Invalid, match="score must be a number"):
        served.save_score("q1a", first["student"], {"score": "two", "version": saved["version"]})
    item = served.add_item("q1a", {"points": 0.5, "comment": "clear"})
    assert served.items("q1a") == [{**item, "uses": 0}]
    assert [row["student"] for row in served.student_list()] == [
        s["student"] for s in client.get("/api/students").json()
    ]


def test_the_desk_answers_at_the_address_it_prints_the_moment_it_prints_it(rubric, tmp_path):
    """Its first line is its address: a browser sent there at once is answered, however slowly the app is set up
    after (it was refused until the server had started listening, on a busy machine)."""
    import socket
    import subprocess
    import sys
    from urllib.parse import urlsplit

    make_desk_class(tmp_path, rubric, STUDENTS)
    command = [sys.executable, "-m", "grader", "desk", str(tmp_path), "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = urlsplit(server.stdout.readline().strip())
        with socket.create_connection((address.hostname, address.port)) as connection:  # refused before the fix
            connection.sendall(f"GET /?{address.query} HTTP/1.0\r\nHost: {address.netloc}\r\n\r\n".encode())
            assert connection.makefile("rb").readline().startswith(b"HTTP/1.1 200")
    finally:
        server.terminate()
        server.wait()
