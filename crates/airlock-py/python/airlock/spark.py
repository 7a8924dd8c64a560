"""airlock on Spark: the same engine in every executor, through `DataFrame.mapInArrow`.

Most transforms are per row and keyed (tokens, per-patient date shifts, surrogates, Safe
Harbor generalization): every partition computes the same output for the same row with no
coordination, so `deid` is one `mapInArrow`. Three need more than one row:

- `suppress_rare` needs each value's count over the whole table: a first `mapInArrow` counts
  each partition's values in Rust, a Spark aggregation sums them, and the counts of the values
  frequent enough to keep go to the executors with the policy;
- free text with a patient column looks, in each note, for what any row of the same patient
  says: the rows are repartitioned by patient first, so that all of a patient's rows are in one
  partition, which makes its two passes;
- the policy's `[risk]` block (the least lossy generalization of the quasi-identifiers that
  meets its criteria, searched over the whole table): a first `mapInArrow` de-identifies each
  partition and counts its combinations of quasi-identifier values in Rust, a Spark aggregation
  sums them, the driver runs the search on the sums (the same search as `airlock deid`: its
  result does not depend on the order of the rows), and the second `mapInArrow` de-identifies
  each partition again and recodes its quasi-identifiers. The recoding holds the combinations
  of values the search saw: it travels to the executors with the task.

The workspace secret travels to the executors inside the task (as any Spark UDF's closure
does): run it on a cluster whose executors you would trust with the secret file.
"""

import pyarrow as pa

from . import _native
from ._native import Keys, Policy

__all__ = ["deid", "scan"]


def _counts_schema(what):
    """(column, `what`, count): the rows the counting passes hand to Spark."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    return StructType(
        [
            StructField("column", StringType(), False),
            StructField(what, StringType(), False),
            StructField("count", LongType(), False),
        ]
    )


def _spark_schema(arrow_schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema)


def _arrow_schema(df):
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema)


def deid(df, policy, keys, *, scan=True, max_findings=0, risk_report=False):
    """De-identifies a Spark DataFrame under `policy` with `keys`: the same rows, cell for cell,
    as `airlock deid` and `airlock.deid` give for the same input, policy and key. With
    `risk_report`, returns `(df, record)`: the record of the policy's `[risk]` step (criteria,
    levels chosen, records suppressed, figures before and after; None without a `[risk]`
    block), as the manifest of `airlock deid` holds it."""
    if not isinstance(policy, Policy) or not isinstance(keys, Keys):
        raise TypeError("airlock.spark.deid(df, airlock.Policy, airlock.Keys)")
    plan = _native._plan_info(policy, _arrow_schema(df))
    toml, secret = policy.toml, keys.to_bytes()
    counts = None
    if plan["rare_columns"]:
        counts = _rare_counts(df, toml, plan)
    if plan["patient_memory"]:
        df = df.repartition(plan["patient_column"])
    in_schema = _arrow_schema(df)
    recoding, record = None, None
    if plan["risk"]:
        record, recoding = _risk_solve(df, policy, toml, secret, counts, plan)
    out_schema = _native.output_schema(in_schema, policy)

    def run(batches):
        p = Policy.from_toml(toml)
        k = Keys.from_bytes(secret)
        table = pa.Table.from_batches(list(batches), schema=in_schema)
        out = _native.deid(
            table, p, k, scan=scan, max_findings=max_findings, _counts=counts, _generalize=False
        )
        if recoding is not None:
            out = _native._risk_apply(out, p, recoding)
        yield from out.to_batches()

    out = df.mapInArrow(run, _spark_schema(out_schema))
    return (out, record) if risk_report else out


def _risk_solve(df, policy, toml, secret, counts, plan):
    """The [risk] block's search on the counts of every partition's de-identified rows: the
    step's record, and the recoding each partition applies."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    in_schema = _arrow_schema(df)
    names = [f"q{i}" for i in range(len(plan["risk_qis"]))]
    if plan["risk_sensitive"] is not None:
        names.append("sensitive")
    schema = StructType([StructField(n, StringType(), False) for n in names] + [StructField("count", LongType(), False)])

    def count(batches):
        p = Policy.from_toml(toml)
        k = Keys.from_bytes(secret)
        table = pa.Table.from_batches(list(batches), schema=in_schema)
        out = _native.deid(table, p, k, scan=False, max_findings=None, _counts=counts, _generalize=False)
        yield _native._risk_counts(out, p)

    summed = df.mapInArrow(count, schema).groupBy(*names).agg(F.sum("count").alias("count")).collect()
    columns = {n: [r[n] for r in summed] for n in names}
    columns["count"] = [int(r["count"]) for r in summed]
    table = pa.table(
        {n: pa.array(v, pa.string()) for n, v in columns.items() if n != "count"}
        | {"count": pa.array(columns["count"], pa.int64())}
    )
    return _native._risk_solve(policy, table)


def _rare_counts(df, toml, plan):
    """Each suppress_rare column's values and their counts over the whole DataFrame, for the
    values seen at least k times (the others are suppressed)."""
    from pyspark.sql import functions as F

    in_schema = _arrow_schema(df)

    def count(batches):
        p = Policy.from_toml(toml)
        table = pa.Table.from_batches(list(batches), schema=in_schema)
        yield _native._value_counts(table, p)

    partial = df.mapInArrow(count, _counts_schema("value"))
    total = partial.groupBy("column", "value").agg(F.sum("count").alias("count"))
    keep = total.where(F.col("count") >= F.lit(plan["min_k"]))
    counts = {}
    for row in keep.collect():
        counts.setdefault(row["column"], {})[row["value"]] = int(row["count"])
    return counts


def scan(df, *, mode="strict"):
    """The residual-PHI scan of every text column of a DataFrame: counts per column and kind
    (never a value), as a dict `{column: {kind: count}}`."""
    from pyspark.sql import functions as F

    in_schema = _arrow_schema(df)

    def run(batches):
        table = pa.Table.from_batches(list(batches), schema=in_schema)
        yield _native._scan_table(table, mode)

    rows = df.mapInArrow(run, _counts_schema("kind")).groupBy("column", "kind").agg(F.sum("count").alias("n")).collect()
    out = {}
    for r in rows:
        out.setdefault(r["column"], {})[r["kind"]] = int(r["n"])
    return out
