"""The Python API against the command line, on the same input, policy and key."""

import threading

import pyarrow as pa
import pytest

import airlock
from conftest import airlock as run_cli, as_strings, raw_table, read_strings


def test_deid_of_a_table_equals_the_cli_cell_by_cell(demo):
    policy = airlock.Policy.from_toml(str(demo["policy"]))
    keys = airlock.Keys.from_file(demo["secret"])
    out = airlock.deid(raw_table(demo), policy, keys, max_findings=None)
    assert isinstance(out, pa.Table)
    # one thread or several, one batch or many: the same table
    raw = raw_table(demo)
    chunked = pa.Table.from_batches(raw.to_batches(max_chunksize=250))
    assert chunked.num_rows == raw.num_rows and len(chunked.to_batches()) > 4
    assert airlock.deid(chunked, policy, keys, max_findings=None, threads=3).equals(out)
    assert airlock.deid(raw, policy, keys, max_findings=None, threads=1).equals(out)
    cli = as_strings(read_strings(demo["cli"]))
    mine = as_strings(out)
    assert list(mine) == list(cli)
    for name in cli:
        assert mine[name] == cli[name], name
    # something was done: names dropped, tokens made, notes changed
    assert "patient_name" not in mine
    raw = as_strings(raw_table(demo))
    assert all(t.startswith("P-") for t in mine["mrn"])
    assert sum(a != b for a, b in zip(raw["note"], mine["note"])) > len(raw["note"]) // 2


def test_the_policy_text_and_a_path_read_alike_and_keys_round_trip(demo):
    by_path = airlock.Policy.from_toml(str(demo["policy"]))
    by_text = airlock.Policy.from_toml(demo["policy"].read_text())
    assert by_path.sha256 == by_text.sha256 and by_path.dataset == "demo-encounters"
    keys = airlock.Keys.from_file(demo["secret"])
    again = airlock.Keys.from_bytes(keys.to_bytes())
    assert again.key_id == keys.key_id
    assert "key_id" in repr(keys) and keys.to_bytes().hex() not in repr(keys)


STREAM_POLICY = """
[dataset]
name = "s"
[defaults]
unclassified = "fail"
[fields.id]
class = "direct_identifier"
action = "tokenize"
[fields.zip]
class = "quasi_identifier"
action = "generalize"
rule = "zip3"
[fields.note]
class = "free_text"
action = "text_redact"
"""


def small():
    return pa.table(
        {
            "id": [f"A{i:04d}" for i in range(500)],
            "zip": [f"{10000 + i * 37 % 80000:05d}" for i in range(500)],
            "note": [f"Seen by Dr. Ingrid Kjaer on 3/{i % 28 + 1}/2021." for i in range(500)],
        }
    )


def test_a_stream_is_deidentified_batch_by_batch_like_the_table():
    policy = airlock.Policy.from_toml(STREAM_POLICY)
    keys = airlock.Keys.from_bytes(bytes(range(32)))
    table = small()
    whole = airlock.deid(table, policy, keys)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=64))
    out = airlock.deid(reader, policy, keys)
    assert isinstance(out, pa.RecordBatchReader)
    batches = list(out)
    assert len(batches) == 8
    assert pa.Table.from_batches(batches).equals(whole)
    assert not any("Kjaer" in n for n in whole.column("note").to_pylist())
    assert set(whole.column("zip").to_pylist()) <= {f"{z[:3]}" for z in table.column("zip").to_pylist()} | {"000"}


def test_a_policy_that_needs_two_passes_refuses_a_stream(demo):
    policy = airlock.Policy.from_toml(str(demo["policy"]))
    keys = airlock.Keys.from_file(demo["secret"])
    t = raw_table(demo)
    with pytest.raises(airlock.AirlockError, match="two passes"):
        airlock.deid(pa.RecordBatchReader.from_batches(t.schema, t.to_batches()), policy, keys)


def test_residual_findings_raise_and_name_no_value():
    # the note column kept as it is: its names are residual identifiers
    policy = airlock.Policy.from_toml(STREAM_POLICY.replace('action = "text_redact"', 'action = "keep"').replace('class = "free_text"', 'class = "clinical"'))
    keys = airlock.Keys.from_bytes(bytes(32))
    with pytest.raises(airlock.FindingsError) as e:
        airlock.deid(small(), policy, keys)
    assert "Kjaer" not in str(e.value) and "Ingrid" not in str(e.value)
    assert airlock.deid(small(), policy, keys, max_findings=None).num_rows == 500


def test_an_unknown_column_fails_closed_without_printing_values():
    policy = airlock.Policy.from_toml(STREAM_POLICY)
    t = small().append_column("Ms Jane Roe 555-0199", pa.array(["x"] * 500))
    with pytest.raises(airlock.AirlockError) as e:
        airlock.deid(t, policy, airlock.Keys.from_bytes(bytes(32)))
    assert "555-0199" not in str(e.value) or "not" in str(e.value)


def test_text_redact_and_surrogate_on_strings_and_lists():
    out = airlock.text.redact("Patient John Smith was seen on 03/04/2021 at 555-867-5309.")
    assert "John" not in out and "Smith" not in out and "5309" not in out
    many = airlock.text.redact(["Call Ana at 617-555-0100.", "BP 120/80, HR 72."])
    assert "0100" not in many[0] and many[1] == "BP 120/80, HR 72."
    known = airlock.text.redact("Discussed with Quillfeather.", known={"name": ["Barnaby Quillfeather"]})
    assert "Quillfeather" not in known
    keys = airlock.Keys.from_bytes(bytes(range(32)))
    a = airlock.text.surrogate("Seen by Dr. Ingrid Kjaer.", keys)
    b = airlock.text.surrogate("Seen by Dr. Ingrid Kjaer.", keys)
    assert a == b and "Kjaer" not in a
    with pytest.raises(ValueError):
        airlock.text.redact("x", mode="loose")


def test_scan_and_risk_agree_with_the_cli(demo, tmp_path):
    f = tmp_path / "leak.csv"
    f.write_text("id,note\n1,SSN 123-45-6789 on file\n2,BP 120/80\n")
    report = airlock.scan([str(f)])
    assert report["total"] >= 1
    cli = run_cli("--json", "risk", str(demo["cli"]), "--qi", "sex,age,zip", check=False)
    import json

    expected = json.loads(cli.stdout)
    got = airlock.risk(read_strings(demo["cli"]), qi=["sex", "age", "zip"])
    assert got["k"] == expected["risk"]["k"]
    assert got["sample_uniques"] == expected["risk"]["sample_uniques"]
    assert got["average_prosecutor_risk"] == pytest.approx(expected["risk"]["average_prosecutor_risk"])


def test_pandas_goes_through_arrow():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": ["A1", "A2"], "zip": ["02139", "94110"], "note": ["Met Ana Li.", "ok"]})
    out = airlock.deid(pa.Table.from_pandas(df, preserve_index=False), airlock.Policy.from_toml(STREAM_POLICY), airlock.Keys.from_bytes(bytes(32))).to_pandas()
    assert list(out.columns) == ["id", "zip", "note"] and "Ana" not in out["note"][0]


def test_the_gil_is_released_while_it_works():
    import sys
    import time

    policy = airlock.Policy.from_toml(STREAM_POLICY)
    keys = airlock.Keys.from_bytes(bytes(32))
    big = pa.concat_tables([small()] * 40)
    started, done = threading.Event(), threading.Event()
    ticks = 0

    def work():
        started.set()
        airlock.deid(big, policy, keys)
        done.set()

    # no forced switches: the main thread runs while the worker is inside deid only if deid
    # lets go of the GIL
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000)
    try:
        t = threading.Thread(target=work)
        t.start()
        started.wait()
        while not done.is_set():
            ticks += 1
            time.sleep(0)
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert ticks > 0


def test_the_type_stubs_name_everything_public():
    import ast
    from pathlib import Path

    import airlock._native as native

    stub = Path(airlock.__file__).with_name("_native.pyi")
    names = {
        n.name
        for n in ast.parse(stub.read_text()).body
        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    }
    public = {n for n in dir(native) if not n.startswith("_")}
    assert public == names


def test_anything_with_the_arrow_stream_protocol_is_read_as_a_stream():
    # what a Polars DataFrame offers: __arrow_c_stream__ (the Arrow PyCapsule interface)
    table = small()

    class Frame:
        def __arrow_c_stream__(self, requested_schema=None):
            return table.__arrow_c_stream__(requested_schema)

    policy = airlock.Policy.from_toml(STREAM_POLICY)
    keys = airlock.Keys.from_bytes(bytes(range(32)))
    out = airlock.deid(Frame(), policy, keys)
    assert isinstance(out, pa.RecordBatchReader)
    assert out.read_all().equals(airlock.deid(table, policy, keys))
    with pytest.raises(TypeError):
        airlock.deid([1, 2, 3], policy, keys)


def test_a_risk_policy_generalizes_the_table_as_the_cli_does(demo, risk_demo):
    import json

    policy = airlock.Policy.from_toml(str(risk_demo["policy"]))
    keys = airlock.Keys.from_file(demo["secret"])
    raw = raw_table(demo)
    out = airlock.deid(raw, policy, keys, max_findings=None)
    cli = as_strings(read_strings(risk_demo["cli"]))
    mine = as_strings(out)
    assert list(mine) == list(cli)
    for name in cli:
        assert mine[name] == cli[name], name
    record = json.loads(out.schema.metadata[b"airlock.risk"])
    assert record["levels"] == risk_demo["record"]["levels"]
    assert record["suppressed_records"] == risk_demo["record"]["suppressed_records"]
    # the rows in another order: the same search, so the same rows
    order = list(range(raw.num_rows))[::-1]
    again = as_strings(airlock.deid(raw.take(order), policy, keys, max_findings=None))
    assert sorted(zip(*again.values())) == sorted(zip(*mine.values()))
    # a stream cannot be generalized batch by batch
    with pytest.raises(airlock.AirlockError, match=r"\[risk\]"):
        airlock.deid(raw.to_reader(), policy, keys)
