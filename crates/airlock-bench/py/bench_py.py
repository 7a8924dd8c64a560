"""The Python side of `compare.sh`: times `airlock.deid` on a CSV file read into Arrow, and
`airlock.spark.deid` in Spark local[2], on the demo table; prints one JSON line.

    python bench_py.py RAW.csv POLICY.toml SECRET OUT_DIR [--spark] [--threads N]
"""

import argparse
import json
import os
import sys
import time

import pyarrow as pa
import pyarrow.csv as pacsv

import airlock


def read(path):
    names = open(path).readline().strip().split(",")
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True
        ),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("policy")
    ap.add_argument("secret")
    ap.add_argument("out")
    ap.add_argument("--spark", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    policy = airlock.Policy.from_toml(a.policy)
    keys = airlock.Keys.from_file(a.secret)
    result = {}
    t0 = time.perf_counter()
    table = read(a.raw)
    t1 = time.perf_counter()
    out = airlock.deid(table, policy, keys, max_findings=None, threads=a.threads)
    t2 = time.perf_counter()
    pacsv.write_csv(out, os.path.join(a.out, "python.csv"))
    t3 = time.perf_counter()
    result["rows"] = table.num_rows
    result["python"] = {"read": t1 - t0, "deid": t2 - t1, "write": t3 - t2, "total": t3 - t0}
    del table, out
    if a.spark:
        from airlock import spark as airlock_spark  # (a plain import would shadow airlock)
        from pyspark.sql import SparkSession

        os.environ["PYSPARK_PYTHON"] = sys.executable
        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        t0 = time.perf_counter()
        df = spark.read.option("header", True).csv(a.raw)
        out = airlock_spark.deid(df, policy, keys, max_findings=None)
        out.write.mode("overwrite").option("header", True).csv(os.path.join(a.out, "spark"))
        t1 = time.perf_counter()
        result["spark"] = {"total": t1 - t0}
        spark.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
