"""JUnit XML for CI test reporters (GitLab, Jenkins, GitHub): one testsuite per student, one testcase per test."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from grader.assignment import current_assignment
from grader.points import points_text
from grader.store import StudentRow


def junit_xml(rows: list[StudentRow]) -> ET.ElementTree:
    """Every graded student's tests; a failed test carries its feedback text (escaped by the XML writer)."""
    suites = ET.Element("testsuites", name=current_assignment().TITLE)
    for row in rows:
        if row.result is None:
            continue
        result = row.result
        failed = [t for t in result.tests if not t.passed]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=_printable(row.identity.student),
            tests=str(len(result.tests)),
            failures=str(len(failed)),
            errors="0",
            time=f"{result.execution_time:.2f}",
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", points_text(result.score)), ("status", str(result.status))):
            ET.SubElement(properties, "property", name=name, value=value)
        for test in result.tests:
            classname = _printable(f"{row.identity.student}.{test.item}")
            case = ET.SubElement(suite, "testcase", classname=classname, name=test.name)
            if not test.passed:
                failure = ET.SubElement(
                    case, "failure", message=f"{test.score:.3g}/{test.max_score:.3g} points", type="failed"
                )
                failure.text = _printable(test.output)
    ET.indent(suites)
    return ET.ElementTree(suites)


def _printable(text: str) -> str:
    """Only what XML 1.0 can hold, whatever the escaping (no control character but tab and line ends, no
    surrogate, no U+FFFE or U+FFFF): stored text is clean already; this holds for a store of older days."""
    return "".join(
        c for c in text if c in "\t\n\r" or "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
    )


def write_junit(rows: list[StudentRow], out: Path) -> Path:
    path = out / "junit.xml"
    junit_xml(rows).write(path, encoding="utf-8", xml_declaration=True)
    return path
