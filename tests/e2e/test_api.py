"""The README's Python API example, run as written from the repository root."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def readme_example() -> tuple[str, str]:
    """The code of the README's Python API section and the output it says the code prints."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    printed = re.search(r"\nprints [^\n]*\n\n```\n(.*?)```", section, re.S)
    assert code is not None and printed is not None, "the section lost its example"
    return code.group(1), printed.group(1)


def test_the_readme_example_prints_what_the_readme_says():
    code, printed = readme_example()
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed
    summary = (ROOT / "out" / "python-api-example" / "summary.json").read_text("utf-8")
    assert '"succeeded": 294' in summary


def test_the_api_is_importable_without_loading_pandas():
    """``import importer`` stays light (the command line's --help imports it): the API's
    names load on first use."""
    code = (
        "import sys, importer\n"
        "assert 'pandas' not in sys.modules\n"
        "assert callable(importer.run) and callable(importer.validate)\n"
        "print(sorted(set(importer.__all__) - set(dir(importer))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"
