"""Markers by place, so that a quick run can leave out what needs servers, a browser or
bubblewrap: `pytest -m "not e2e and not browser and not sandbox"`.

- e2e: everything under tests/e2e/ (PostgreSQL, Redis, worker processes);
- browser: the Playwright tests (tests/e2e/test_browser*.py, and any test using the `browser`
  fixture);
- sandbox: the suites that start bubblewrap to run hostile or uploaded strategy files (SANDBOX
  below), and single tests elsewhere that do, marked in place (`@pytest.mark.sandbox`).
"""

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SANDBOX = {"evaluator/test_sandbox.py", "evaluator/test_hostile.py", "evaluator/test_hostile_cli.py",
           "evaluator/test_pruning_api.py", "submissions/test_hostile_worker.py",
           "submissions/test_no_server_paths.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        where = item.path.resolve().relative_to(TESTS).as_posix()
        if where.startswith("e2e/"):
            item.add_marker(pytest.mark.e2e)
        if item.path.name.startswith("test_browser") or "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if where in SANDBOX:
            item.add_marker(pytest.mark.sandbox)
