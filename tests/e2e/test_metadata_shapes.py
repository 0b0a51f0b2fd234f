"""Metadata shapes: the tests that need the real command line
(the rest are in tests/unit/test_metadata_shapes.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, serve_in_thread
from importer.sandbox.schema import default_schema
from importer.sandbox.shapes import SHAPES
from tests.conftest import run_cli
from tests.e2e.test_resume import write_inputs
from tests.unit.test_account import PREFLIGHT_CASES, create_calls, env_for, whoami_lines
from tests.unit.test_metadata_shapes import (
    CFS_SKIP,
    NAMES_LISTED,
    REFUSED,
    SAMPLES,
    SETS_LISTED,
)


@pytest.fixture(scope="module", params=list(SHAPES))
def shaped(request):
    config = SandboxConfig(rate_limit=1000, rate_window=1.0, metadata_shape=request.param)
    with serve_in_thread(config) as running:
        yield request.param, running


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_the_samples_pass_the_check_and_send(shaped, tmp_path: Path, sample):
    shape, sandbox = shaped
    data, mapping, succeeded = SAMPLES[sample]
    check = run_cli("validate", data, "-m", mapping, "--check-account", env=env_for(sandbox))
    assert check.returncode == 1, check.stderr  # the sample's deliberately bad rows only
    before = create_calls(sandbox)
    out = tmp_path / "out"
    run = run_cli(
        "run", data, "-m", mapping, "--out", out, "--rate", "1000/1s", env=env_for(sandbox)
    )
    assert run.returncode == 1, run.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["succeeded"] == succeeded
    assert create_calls(sandbox) - before == succeeded
    cfs = "mx_KYC" if sample == "site_visits" else "mx_Custom_5"
    skip = CFS_SKIP.format(cfs)
    for result in (check, run):
        said = result.stdout + result.stderr
        assert (skip in said) is (shape not in SETS_LISTED), said
        # any check skipped names the dump; a shape read whole skips nothing
        assert ("--dump" in said) is (shape in ("unlisted", "sparse", "restricted")), said
    if shape == "restricted":
        assert (
            "could not read the account's lead fields: LeadsMetaData.Get answered "
            "MXUnAuthorizedAccessException: You do not have permission to access this API."
        ) in run.stderr
        assert "cannot check the event code 2" in run.stderr


@pytest.mark.parametrize("case", [*REFUSED, "unknown custom field set field"])
def test_what_the_metadata_proves_wrong_is_refused(shaped, tmp_path: Path, case):
    shape, sandbox = shaped
    text, message = PREFLIGHT_CASES[case]
    data, mapping = write_inputs(tmp_path, 3)
    mapping.write_text(text, encoding="utf-8")
    before = create_calls(sandbox)
    result = run_cli("validate", data, "-m", mapping, "--check-account", env=env_for(sandbox))
    evidence = (
        shape in SETS_LISTED and shape in NAMES_LISTED
        if case == "unknown custom field set field"
        else case == "unknown activity field" or shape in NAMES_LISTED
    )
    if shape not in NAMES_LISTED:  # the type's fields, but not its name
        message = message.replace(" (Site Visit)", "")
    if evidence:
        assert result.returncode == 2, result.stdout
        assert result.stderr.splitlines()[:2] == [
            f"error: {mapping}: 1 problem in the mapping:",
            f"  {message}",
        ]
    else:  # the metadata does not show it: skipped and said, never refused
        assert result.returncode == 1, result.stderr  # write_inputs' one bad row
        assert "  cannot check " in result.stdout
    assert create_calls(sandbox) == before


def test_a_cfs_whose_fields_are_not_listed_is_skipped_and_sent(tmp_path: Path):
    mapping_text = PREFLIGHT_CASES["unknown custom field set field"][0].replace(
        "Statu: Name", "Status: {value: Pending}"
    )
    data, mapping = write_inputs(tmp_path, 4)
    mapping.write_text(mapping_text, encoding="utf-8")
    config = SandboxConfig(rate_limit=1000, rate_window=1.0, metadata_shape="unlisted")
    with serve_in_thread(config) as box:
        result = run_cli(
            "run",
            data,
            "-m",
            mapping,
            "--out",
            tmp_path / "out",
            "--rate",
            "1000/1s",
            env=env_for(box),
        )
        stored = [lead.fields.get("mx_KYC") for lead in box.state.leads.values()]
    assert result.returncode == 1, result.stderr  # write_inputs' one bad row
    assert CFS_SKIP.format("mx_KYC") in result.stderr.splitlines()
    assert "4 succeeded" in result.stdout
    assert len(stored) == 4 and all(s is not None for s in stored)


def test_whoami_against_the_documented_sample(shaped, tmp_path: Path):
    _, sandbox = shaped
    result = run_cli("whoami", env=env_for(sandbox), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == whoami_lines(sandbox.url)


def test_the_dump_holds_every_answer_and_no_key(tmp_path: Path):
    schema = default_schema()
    config = SandboxConfig(rate_limit=1000, rate_window=1.0, metadata_shape="unlisted")
    # a server that echoes the keys back, under a key's name and inside a text
    schema.account = {
        **schema.account,
        "AccessKey": config.access_key,
        "Note": f"issued for {config.secret_key}",
    }
    config.schema = schema
    dump = tmp_path / "dump.json"
    with serve_in_thread(config) as box:
        result = run_cli("account", "--dump", dump, env=env_for(box), cwd=tmp_path)
        again = run_cli("account", "--dump", dump, env=env_for(box), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = dump.read_text(encoding="utf-8")
    assert config.access_key not in text and config.secret_key not in text
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    answers = json.loads(text)["answers"]
    assert [a["call"].rsplit("/", 1)[-1] for a in answers] == [
        "UserByAccessKey.Get",
        "LeadsMetaData.Get",
        "ActivityTypes.Get",
        "GetActivitySetting",
        "GetActivitySetting",
    ]
    assert answers[0]["answer"]["AccessKey"] == "<removed>"
    assert answers[0]["answer"]["Note"] == "issued for ***"
    kyc = next(f for f in answers[1]["answer"] if f["SchemaName"] == "mx_KYC")
    assert kyc["DataType"] == "CustomObject"  # the answer as it came, not as it was read
    assert f"Wrote {dump}: the raw answers of 5 calls, keys removed" in result.stdout
    assert "  mx_KYC (KYC): fields not listed" in result.stdout
    assert "  activity 202 (Payment Received): 4 fields" in result.stdout
    assert again.returncode == 2 and "add --force" in again.stderr
    assert dump.read_text(encoding="utf-8") == text


def test_a_dump_that_cannot_be_written_is_refused_before_any_call(tmp_path: Path):
    config = SandboxConfig(rate_limit=1000, rate_window=1.0)
    missing = tmp_path / "no such folder" / "dump.json"
    with serve_in_thread(config) as box:
        result = run_cli("account", "--dump", missing, env=env_for(box), cwd=tmp_path)
        folder = run_cli("account", "--dump", tmp_path, env=env_for(box), cwd=tmp_path)
        calls = sum(n for k, n in box.state.counters.items() if k.startswith("calls:"))
    assert result.returncode == 2, result.stderr
    assert f"the folder {missing.parent} does not exist" in result.stderr
    assert folder.returncode == 2 and "is a directory" in folder.stderr
    assert "Traceback" not in result.stderr + folder.stderr
    assert calls == 0
    assert not missing.parent.exists()


def test_init_mapping_leaves_unlisted_cfs_fields_to_the_user(tmp_path: Path):
    data = SAMPLES["site_visits"][0]
    out = tmp_path / "m.yaml"
    config = SandboxConfig(rate_limit=1000, rate_window=1.0, metadata_shape="unlisted")
    with serve_in_thread(config) as box:
        made = run_cli(
            "init-mapping", data, "--activity", "201", "-o", out, env=env_for(box), cwd=tmp_path
        )
        check = run_cli("validate", data, "-m", out, "--check-account", env=env_for(box))
    assert made.returncode == 0, made.stderr
    line = (
        "the account's metadata does not list the fields of custom field set mx_KYC: map them "
        "by hand under lead.custom_field_sets.mx_KYC"
    )
    assert f"note: {line}" in made.stderr.splitlines()
    assert f"# Note: {line}" in out.read_text(encoding="utf-8").splitlines()
    assert check.returncode == 1, check.stderr  # the sample's bad rows; the mapping is fine
