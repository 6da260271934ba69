"""The documentation: the README is the front page, the rest a MkDocs site that builds strictly (a broken link or
anchor fails it), and the layout the docs and docstrings describe is the code's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_LIMIT = 15_000


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )


def nav_pages() -> list[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return [page for entry in config["nav"] for page in entry.values()]


def test_the_site_builds_strictly(tmp_path):
    built = build(ROOT, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    for page in nav_pages():
        assert (tmp_path / "site" / page.removesuffix(".md").replace("index", "") / "index.html").is_file() or (
            page == "index.md" and (tmp_path / "site" / "index.html").is_file()
        ), page


@pytest.mark.parametrize("broken", ["[the guide](nowhere.md)", "[a section](instructors.md#no-such-section)"])
def test_a_broken_link_fails_the_build(tmp_path, broken):
    project = tmp_path / "project"
    shutil.copytree(DOCS, project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    with open(project / "docs" / "tas.md", "a") as page:
        page.write(f"\nSee {broken}.\n")
    built = build(project, tmp_path / "site")
    assert built.returncode != 0 and ("nowhere.md" in built.stderr or "no-such-section" in built.stderr)


def test_every_page_is_in_the_navigation_and_every_entry_is_a_page():
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert sorted(nav_pages()) == pages


def test_the_readme_is_a_front_page_that_leads_to_every_guide():
    text = README.read_text()
    assert len(text.encode()) < README_LIMIT
    assert "make grade" in text and "make test" in text and "![" in text
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", text))
    assert linked == set(nav_pages()) - {"index.md"}
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (ROOT / image).is_file(), image


def test_every_dependency_pinned_is_explained_in_the_readme():
    explained = README.read_text().split("## Why each dependency is there")[1].lower()
    for name in ("requirements-runtime.txt", "requirements-cluster.txt", "requirements.txt"):
        for line in (ROOT / name).read_text().splitlines():
            if line and not line.startswith(("#", "-r")):
                package = re.split(r"[=<>\[]", line)[0].lower()
                assert package in explained, f"{package} ({name}) is not in the README's table"


def test_the_architecture_page_names_every_module_and_only_modules_that_exist():
    text = (DOCS / "architecture.md").read_text()
    layout = "\n".join(re.findall(r"```\n(.*?)```", text, re.DOTALL))
    modules = {p.name for p in (ROOT / "grader").rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    named = set(re.findall(r"\b([a-z_]+\.py)\b", layout))
    elsewhere = {"assignment.py", "build_notebooks.py", "solutions.py", "util.py", "selfcheck.py", "setup.py"}
    elsewhere |= {p.name for p in (ROOT / "tools").glob("*.py")}
    elsewhere |= {p.name for p in (ROOT / "assignment").glob("*.py")}  # the assignment's own, beside the engine
    assert modules - named == set(), "modules the architecture page leaves out"
    assert named - modules - elsewhere == set(), "names of modules that do not exist"


def test_the_packages_docstrings_name_modules_that_exist():
    places = [ROOT / "grader", ROOT / "tests"]
    for init in (ROOT / "grader" / "__init__.py", ROOT / "grader" / "views" / "__init__.py"):
        doc = init.read_text().split('"""')[1]
        for name in re.findall(r"\b([a-z_]+)(?:\.py|/)", doc):
            found = [p for place in places for p in (place.rglob(f"{name}.py")) if "node_modules" not in p.parts]
            found += [place for place in places if place.name == name]
            found += [d for place in places for d in place.rglob(name) if d.is_dir()]
            assert found, f"{init.relative_to(ROOT)} names {name}, which does not exist"
