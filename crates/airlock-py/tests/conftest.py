"""Shared set-up: the `airlock` binary (AIRLOCK_BIN), a demo extract made by `airlock demo`
(policy, workspace secret, raw table) and the CLI's own output for it."""

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

BIN = os.environ.get("AIRLOCK_BIN", "airlock")


def airlock(*args, cwd=None, check=True):
    out = subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"airlock {' '.join(args)}: {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out


def read_strings(path):
    """A CSV with every column read as text, an empty cell as null (as the CLI reads CSV)."""
    names = Path(path).read_text().splitlines()[0].split(",")
    opts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
    return pacsv.read_csv(path, convert_options=opts)


def as_strings(table):
    """Every cell as the text the CLI writes in CSV (nulls as empty)."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        cols[name] = [("" if v is None else str(v)) for v in col.cast(pa.string()).to_pylist()]
    return cols


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    airlock("demo", "--dir", str(d), "--rows", "3000")
    raw = d / "raw" / "encounters.csv"
    cli_out = d / "cli.csv"
    airlock(
        "deid", str(raw), "--policy", str(d / "policy.toml"), "-o", str(cli_out),
        "--key-file", str(d / ".airlock" / "secret"), "--max-findings", "1000000",
    )
    return {
        "dir": d,
        "raw": raw,
        "policy": d / "policy.toml",
        "secret": d / ".airlock" / "secret",
        "cli": cli_out,
    }


def raw_table(demo):
    """The raw extract as the CLI reads it: every column as text."""
    return read_strings(demo["raw"])


def risk_policy_text(demo):
    """The demo policy with hierarchies for zip and age, an ARX hierarchy file for sex (beside
    the policy, in `hier/`: found from the policy's folder, so Spark's executors, which get the
    policy's text, must not need it) and a [risk] block: k 10, at most 2% of the records
    suppressed."""
    text = demo["policy"].read_text()
    text = text.replace('rule = "zip3"', 'rule = "zip3"\nhierarchy = "zip"', 1)
    text = text.replace('rule = "age_90_plus"', 'rule = "age_90_plus"\nhierarchy = "intervals:5,10,20"', 1)
    text = text.replace(
        '[fields.sex]\nclass = "quasi_identifier"\naction = "keep"',
        '[fields.sex]\nclass = "quasi_identifier"\naction = "keep"\nhierarchy = "hier/sex.csv"',
        1,
    )
    assert text.count("hierarchy =") == 3
    sexes = sorted(set(as_strings(read_strings(demo["raw"]))["sex"]))
    (demo["dir"] / "hier").mkdir(exist_ok=True)
    (demo["dir"] / "hier" / "sex.csv").write_text("".join(f"{s};person;*\n" for s in sexes))
    return text + "\n[risk]\nk = 10\nmax_suppression = 0.02\n"


@pytest.fixture(scope="session")
def risk_demo(demo):
    """The CLI's output and manifest for the demo under `risk_policy_text`."""
    d = demo["dir"]
    policy = d / "risk.toml"
    policy.write_text(risk_policy_text(demo))
    out = d / "cli-risk.csv"
    airlock(
        "deid", str(demo["raw"]), "--policy", str(policy), "-o", str(out),
        "--key-file", str(demo["secret"]), "--max-findings", "1000000",
    )
    manifest = json.loads((d / "cli-risk.csv.manifest.json").read_text())
    return {"policy": policy, "cli": out, "record": manifest["risk"]}
