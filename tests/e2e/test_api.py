"""The README's Python API example, run as written, in a folder laid out as the repository
root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def readme_example() -> tuple[str, str]:
    """The code of the README's Python API section and the output it says the code prints."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    printed = re.search(r"\nprints [^\n]*\n\n```\n(.*?)```", section, re.S)
    assert code is not None and printed is not None, "the section lost its example"
    return code.group(1), printed.group(1)


def test_the_readme_example_prints_what_the_readme_says(tmp_path: Path):
    """As written, from a copy of the repository root's data_samples/ and mappings/ (so the
    run's out/ folder is the test's own: two test runs, or a person trying the example in the
    checkout, never share one)."""
    code, printed = readme_example()
    for folder in ("data_samples", "mappings"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed
    summary = (tmp_path / "out" / "python-api-example" / "summary.json").read_text("utf-8")
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


def test_the_readme_example_type_checks(tmp_path: Path):
    """A library user's type checker accepts the example as written (paths given as text)."""
    code, _ = readme_example()
    example = tmp_path / "example.py"
    example.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", str(example)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout
