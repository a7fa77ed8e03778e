"""Print a one-screen summary of a pytest JUnit XML report: counts, time, failed test ids.

Usage: python scripts/junit_summary.py reports/junit.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(path: str) -> int:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        print(f"tests: no readable JUnit report at {path} ({exc})")
        return 1
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = failures = errors = skipped = 0
    seconds = 0.0
    broken: list[str] = []
    for suite in suites:
        total += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
        seconds += float(suite.get("time", 0.0))
        for case in suite.iter("testcase"):
            for outcome in ("failure", "error"):
                if case.find(outcome) is not None:
                    broken.append(f"  {outcome.upper()}: {case.get('classname')}::{case.get('name')}")
    passed = total - failures - errors - skipped
    print(
        f"tests: {total} run, {passed} passed, {failures} failed, {errors} errors, "
        f"{skipped} skipped in {seconds:.1f}s"
    )
    for line in broken[:50]:
        print(line)
    if len(broken) > 50:
        print(f"  ... and {len(broken) - 50} more")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "reports/junit.xml"))
