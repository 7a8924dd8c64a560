from typing import Dict, Optional

from pyspark.sql import DataFrame

from ._native import Keys, Policy

def deid(
    df: DataFrame, policy: Policy, keys: Keys, *, scan: bool = True, max_findings: Optional[int] = 0
) -> DataFrame: ...
def scan(df: DataFrame, *, mode: str = "strict") -> Dict[str, Dict[str, int]]: ...
