"""The suite's own habits: a test that fits the 1,001-patient sample study or drives a real browser is marked
slow, so the fast lane (``pytest -m "not slow"``) stays fast. tests/conftest.py refuses such a test at collection
when the marker is missing; these tests run that conftest on small made-up test files (pytester) and check that it
refuses what it should and lets through what it should."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


@pytest.fixture()
def suite(pytester):
    """A scratch test folder with the suite's own conftest and markers; returns a function that writes one test
    module and collects it, giving the pytester result."""
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\naddopts = --strict-markers\nmarkers =\n    slow: slow\n    e2e: browser\n")

    def collect(source: str):
        pytester.makepyfile(test_made_up=source)
        return pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")

    return collect


def test_an_unmarked_test_of_the_sample_fit_is_refused_by_name(suite):
    result = suite("def test_uses_the_fit(sample_predictions):\n    pass\n\n"
                   "def test_needs_nothing():\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*1 test(s) fit the sample study or drive a browser but are not marked slow*",
                                 "*test_made_up.py::test_uses_the_fit"])
    assert "test_needs_nothing" not in result.stderr.str()


def test_a_fixture_that_uses_the_sample_fit_makes_its_tests_sample_sized(suite):
    result = suite("import pytest\n\n@pytest.fixture()\ndef report(sample_models):\n    return 1\n\n"
                   "def test_report(report):\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_made_up.py::test_report"])


def test_an_unmarked_browser_test_is_refused(suite):
    result = suite("import pytest\n\n@pytest.mark.e2e\ndef test_clicks():\n    pass\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_made_up.py::test_clicks"])


@pytest.mark.parametrize("marking", ["decorator", "module"])
def test_marked_tests_are_collected(suite, marking):
    module_mark = "pytestmark = [pytest.mark.e2e, pytest.mark.slow]\n\n" if marking == "module" else ""
    decorator = "@pytest.mark.slow\n" if marking == "decorator" else ""
    result = suite(f"import pytest\n\n{module_mark}{decorator}def test_uses_the_fit(sample_models):\n    pass\n")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_made_up.py::test_uses_the_fit"])
