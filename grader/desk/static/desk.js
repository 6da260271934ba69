// The TA desk's page: everything through the desk's JSON API, the token in a header.
// Students' text arrives as HTML the server sanitized (answer_html); everything else is set as text.
"use strict";

const params = new URLSearchParams(location.search);
if (params.get("token")) {
  sessionStorage.setItem("desk-token", params.get("token"));
  history.replaceState(null, "", "/"); // the token leaves the address bar (and any screenshot)
}
const token = sessionStorage.getItem("desk-token") || "";
const $ = (id) => document.getElementById(id);
const state = { questions: [], question: null, answers: [], at: 0, items: [], students: [] };

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

function say(text, conflict = false) {
  const status = $("status");
  status.textContent = text;
  status.className = conflict ? "conflict" : "";
}

function taName() {
  return $("ta-name").value.trim() || "a TA";
}

function show(section) {
  for (const id of ["grading", "automatic", "help"]) $(id).hidden = id !== section;
}

async function loadQuestions() {
  const { status, data } = await api("GET", "/api/questions");
  if (status !== 200) return say(`The desk refused: ${data.error || status}`, true);
  state.questions = data;
  const nav = $("questions");
  nav.replaceChildren();
  for (const q of data) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.question = q.question;
    button.textContent = `${q.question} (${q.scored}/${q.answers})`;
    button.setAttribute("aria-current", String(state.question && state.question.question === q.question));
    button.addEventListener("click", () => openQuestion(q.question));
    nav.append(button);
  }
}

async function openQuestion(name, keepPlace = false) {
  const q = state.questions.find((x) => x.question === name);
  if (!q) return;
  const [answers, items] = await Promise.all([
    api("GET", `/api/answers/${encodeURIComponent(name)}`),
    api("GET", `/api/items/${encodeURIComponent(name)}`),
  ]);
  if (answers.status !== 200 || items.status !== 200) return say("Could not load the question.", true);
  const previous = state.answers[state.at] && state.answers[state.at].student;
  state.question = q;
  state.answers = answers.data;
  state.items = items.data;
  state.at = keepPlace ? Math.max(0, state.answers.findIndex((a) => a.student === previous)) : 0;
  $("question-title").textContent = `${q.question} (${q.points} points)`;
  $("question-text").innerHTML = q.text_html; // sanitized by the desk
  $("model-answer").innerHTML = q.model_html;
  for (const button of $("questions").children) {
    button.setAttribute("aria-current", String(button.dataset.question === name));
  }
  show("grading");
  renderAnswer();
}

function current() {
  return state.answers[state.at];
}

function itemPoints(ids) {
  return ids.reduce((sum, id) => sum + (state.items.find((i) => i.id === id)?.points || 0), 0);
}

function renderAnswer() {
  const answer = current();
  if (!answer) {
    $("answer-title").textContent = "No graded students yet";
    $("answer").replaceChildren();
    return;
  }
  const scored = state.answers.filter((a) => a.score !== null).length;
  $("answer-title").textContent = answer.name ? `${answer.name} (${answer.student})` : answer.student;
  $("progress").textContent = `answer ${state.at + 1} of ${state.answers.length} · scored ${scored} of ${state.answers.length}`;
  $("answer").innerHTML = answer.answer_html || "<p><em>(no answer found)</em></p>"; // sanitized by the desk
  $("comment").value = answer.comment;
  $("adjustment").value = answer.adjustment;
  $("score").textContent = answer.score === null ? "(not scored)" : `${answer.score} / ${state.question.points}`;
  renderLinked(answer);
  renderItems();
}

function renderLinked(answer) {
  const line = $("linked");
  line.replaceChildren();
  if (!answer.linked || !answer.linked.length) return;
  line.append(`Linked with ${answer.linked.join(", ")} (the same file handed in): scored together. `);
  const apart = Object.assign(document.createElement("button"), { type: "button", textContent: "Score apart" });
  apart.addEventListener("click", async () => {
    const path = `/api/links/${encodeURIComponent(answer.student)}`;
    const { status, data } = await api("PUT", path, { linked: false, by: taName() });
    if (status !== 200) return say(`Not changed: ${data.error || status}`, true);
    await openQuestion(state.question.question, true);
    say(`${answer.student} is scored apart from ${answer.linked.join(", ")} now.`);
  });
  line.append(apart);
}

function renderItems() {
  const answer = current();
  const list = $("items");
  list.replaceChildren();
  state.items.forEach((item, index) => {
    const li = document.createElement("li");
    li.dataset.item = item.id;
    if (answer && answer.items.includes(item.id)) li.className = "applied";
    const apply = document.createElement("button");
    apply.type = "button";
    apply.textContent = `[${index + 1}] ${item.points >= 0 ? "+" : ""}${item.points}: ${item.comment}`;
    apply.setAttribute("aria-pressed", String(li.className === "applied"));
    apply.addEventListener("click", () => toggleItem(item.id));
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "edit";
    edit.textContent = "edit";
    edit.addEventListener("click", () => editItem(li, item));
    const uses = document.createElement("span");
    const count = state.answers.filter((a) => a.items.includes(item.id)).length;
    uses.className = "muted";
    uses.textContent = ` (${count} answer${count === 1 ? "" : "s"})`;
    li.append(apply, " ", edit, uses);
    list.append(li);
  });
}

function editItem(li, item) {
  const form = document.createElement("form");
  form.className = "edit-item";
  const points = Object.assign(document.createElement("input"), { type: "number", step: "0.25", value: item.points });
  points.setAttribute("aria-label", "points");
  const comment = Object.assign(document.createElement("input"), { value: item.comment });
  comment.setAttribute("aria-label", "comment");
  const save = Object.assign(document.createElement("button"), { type: "submit", textContent: "Save item" });
  form.append(points, comment, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { points: Number(points.value), comment: comment.value, version: item.version };
    const { status, data } = await api("PUT", `/api/items/${encodeURIComponent(state.question.question)}/${item.id}`, body);
    if (status === 409) say(`Not saved: ${data.error}. The item as it is now is shown.`, true);
    else if (status !== 200) say(`Not saved: ${data.error}`, true);
    else say(`Item saved: every answer with it is scored again.`);
    await openQuestion(state.question.question, true);
    await loadQuestions();
  });
  li.append(form);
  points.focus();
}

async function save(changes) {
  const answer = current();
  if (!answer) return;
  const body = { version: answer.version, by: taName(), ...changes };
  const path = `/api/scores/${encodeURIComponent(state.question.question)}/${encodeURIComponent(answer.student)}`;
  const { status, data } = await api("PUT", path, body);
  if (status === 200) {
    const together = data.linked || [];
    Object.assign(answer, data, { linked: answer.linked });
    if (together.length) await openQuestion(state.question.question, true); // their scores and versions moved too
    else renderAnswer();
    await loadQuestions(); // the questions' progress
    const also = together.length ? ` (and ${together.join(", ")}'s, linked)` : "";
    say(`Saved ${answer.student}'s${also} ${state.question.question}: ${data.score} / ${state.question.points}.`);
    return true;
  }
  if (status === 409) {
    const mine = changes.comment !== undefined ? ` Your comment was: "${changes.comment}".` : "";
    say(`Not saved: ${data.error}. Their version is shown now; apply your change again if it still holds.${mine}`, true);
    await openQuestion(state.question.question, true);
    return false;
  }
  say(`Not saved: ${data.error || status}`, true);
  return false;
}

function toggleItem(id) {
  const answer = current();
  if (!answer) return;
  const items = answer.items.includes(id) ? answer.items.filter((x) => x !== id) : [...answer.items, id];
  return save({ items, adjustment: Number($("adjustment").value) || 0 });
}

function move(step) {
  if (!state.answers.length) return;
  state.at = Math.min(state.answers.length - 1, Math.max(0, state.at + step));
  renderAnswer();
}

function nextUnscored() {
  const n = state.answers.length;
  for (let k = 1; k <= n; k++) {
    const index = (state.at + k) % n;
    if (state.answers[index].score === null) {
      state.at = index;
      renderAnswer();
      return;
    }
  }
  say("Every answer to this question is scored.");
}

document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName);
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "comment") {
    event.preventDefault();
    save({ comment: $("comment").value, adjustment: Number($("adjustment").value) || 0 });
    return;
  }
  if (event.key === "Escape" && typing) return event.target.blur();
  if (event.key === "Enter" && event.target.id === "adjustment") {
    event.preventDefault();
    save({ adjustment: Number($("adjustment").value) || 0 });
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey || $("grading").hidden) {
    if (event.key === "?" && !typing) show($("help").hidden ? "help" : "grading");
    return;
  }
  if (event.key === "j" || event.key === "ArrowRight") move(1);
  else if (event.key === "k" || event.key === "ArrowLeft") move(-1);
  else if (event.key === "n") nextUnscored();
  else if (event.key === "c") $("comment").focus();
  else if (event.key === "a") $("adjustment").focus();
  else if (event.key === "?") show("help");
  else if (/^[1-9]$/.test(event.key) && state.items[Number(event.key) - 1]) toggleItem(state.items[Number(event.key) - 1].id);
  else return;
  event.preventDefault();
});

$("save").addEventListener("click", () =>
  save({ comment: $("comment").value, adjustment: Number($("adjustment").value) || 0 }),
);

$("new-item").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { points: Number($("new-points").value), comment: $("new-comment").value };
  const { status, data } = await api("POST", `/api/items/${encodeURIComponent(state.question.question)}`, body);
  if (status !== 201) return say(`Not added: ${data.error}`, true);
  $("new-points").value = "";
  $("new-comment").value = "";
  say(`Rubric item ${state.items.length + 1} added: press ${state.items.length + 1} to apply it.`);
  await openQuestion(state.question.question, true);
});

// ---- automatic items ----------------------------------------------------------------------------------

async function loadStudents() {
  const { status, data } = await api("GET", "/api/students");
  if (status !== 200) return say("Could not load the students.", true);
  state.students = data;
  const select = $("student-select");
  const chosen = select.value;
  select.replaceChildren();
  for (const s of data) {
    const option = document.createElement("option");
    option.value = s.student;
    option.textContent = s.name ? `${s.name} (${s.student})` : s.student;
    select.append(option);
  }
  if (chosen) select.value = chosen;
  renderStudent();
}

function adjustmentRow(student, label, item, earned, adjustment) {
  const tr = document.createElement("tr");
  tr.dataset.item = item;
  const cells = [label, earned].map((text) => Object.assign(document.createElement("td"), { textContent: text }));
  const points = Object.assign(document.createElement("input"), { type: "number", step: "0.25", value: adjustment.points });
  points.setAttribute("aria-label", `adjustment of ${item}`);
  const reason = Object.assign(document.createElement("input"), { value: adjustment.reason });
  reason.setAttribute("aria-label", `reason for ${item}`);
  const button = Object.assign(document.createElement("button"), { type: "button", textContent: "Save" });
  button.addEventListener("click", async () => {
    const body = { points: Number(points.value) || 0, reason: reason.value, by: taName(), version: adjustment.version };
    const path = `/api/adjustments/${encodeURIComponent(student.student)}/${encodeURIComponent(item)}`;
    const { status, data } = await api("PUT", path, body);
    if (status === 200) say(`Saved: ${item} ${data.points >= 0 ? "+" : ""}${data.points} for ${student.student}, by ${data.by}.`);
    else say(`Not saved: ${data.error}${status === 409 ? " The adjustment as it is now is shown." : ""}`, true);
    await loadStudents();
  });
  const by = adjustment.by ? ` (by ${adjustment.by})` : "";
  const tdPoints = document.createElement("td");
  const tdReason = document.createElement("td");
  const tdSave = document.createElement("td");
  tdPoints.append(points);
  tdReason.append(reason, by);
  tdSave.append(button);
  tr.append(...cells, tdPoints, tdReason, tdSave);
  return tr;
}

function renderStudent() {
  const student = state.students.find((s) => s.student === $("student-select").value) || state.students[0];
  const body = $("automatic-items").tBodies[0];
  body.replaceChildren();
  if (!student) return;
  for (const i of student.items) {
    body.append(adjustmentRow(student, i.item, i.item, `${i.earned} / ${i.points} (now ${i.score})`, i.adjustment));
  }
  body.append(adjustmentRow(student, "late penalty (points given back)", "late", `-${student.late_penalty}`, student.late));
}

$("student-select").addEventListener("change", renderStudent);
$("show-automatic").addEventListener("click", async () => {
  show("automatic");
  await loadStudents();
});
$("show-help").addEventListener("click", () => show($("help").hidden ? "help" : "grading"));
$("ta-name").value = localStorage.getItem("desk-ta") || "";
$("ta-name").addEventListener("change", () => localStorage.setItem("desk-ta", $("ta-name").value));

loadQuestions().then(() => state.questions.length && openQuestion(state.questions[0].question));
