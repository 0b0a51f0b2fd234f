"""The results files' counts: a row is counted once the journal holds it, even when the file
cannot take it (the run stops; the summary must still say what the journal says)."""

from __future__ import annotations

from pathlib import Path

import pytest

from importer.errors import OutputError
from importer.outputs.results import RunResults


def test_a_row_the_file_cannot_take_is_still_counted(tmp_path: Path):
    results = RunResults(tmp_path, ["Email"])
    results.failed(2, "InvalidValue", "bad", "a@x.com")

    def full(*args: object, **kwargs: object) -> None:
        raise OutputError(tmp_path / "failures.csv", "No space left on device")

    writers = results.failures.write_encoded, results.success.write_encoded
    results.failures.write_encoded = full  # type: ignore[method-assign]
    results.success.write_encoded = full  # type: ignore[method-assign]
    with pytest.raises(OutputError):
        results.failed(3, "InvalidValue", "bad too", "b@x.com")
    with pytest.raises(OutputError):
        results.succeeded(4, "act-4", "lead-4", "c@x.com", possible_duplicate=True)
    assert results.failed_by_type == {"InvalidValue": 2}
    assert results.possible_duplicates == [4]
    results.failures.write_encoded, results.success.write_encoded = writers
    results.close()
