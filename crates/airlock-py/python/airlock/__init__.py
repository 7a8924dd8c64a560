"""airlock from Python: the same engine as the `airlock` command, on Arrow data.

    import airlock, pyarrow as pa
    policy = airlock.Policy.from_toml("policy.toml")
    keys = airlock.Keys.from_file(".airlock/secret")
    safe = airlock.deid(table, policy, keys)          # pyarrow.Table in, pyarrow.Table out
    for batch in airlock.deid(reader, policy, keys):  # or a RecordBatchReader, batch by batch
        ...

Data crosses between Python and Rust through the Arrow C data interface (no copy), and the
work runs with the GIL released. Errors are `airlock.AirlockError` (or its subclasses) with the
same messages as the command line: they name files, columns and settings, never a value.
"""

from ._native import (
    AirlockError,
    FindingsError,
    Keys,
    Policy,
    deid,
    output_schema,
    risk,
    scan,
)
from . import text

__all__ = [
    "AirlockError",
    "FindingsError",
    "Keys",
    "Policy",
    "deid",
    "output_schema",
    "risk",
    "scan",
    "text",
]
