from typing import Any, Dict, Literal, Optional, Tuple, overload

from pyspark.sql import DataFrame

from ._native import Keys, Policy

@overload
def deid(
    df: DataFrame,
    policy: Policy,
    keys: Keys,
    *,
    scan: bool = True,
    max_findings: Optional[int] = 0,
    risk_report: Literal[False] = False,
) -> DataFrame: ...
@overload
def deid(
    df: DataFrame,
    policy: Policy,
    keys: Keys,
    *,
    scan: bool = True,
    max_findings: Optional[int] = 0,
    risk_report: Literal[True],
) -> Tuple[DataFrame, Optional[Dict[str, Any]]]: ...
def scan(df: DataFrame, *, mode: str = "strict") -> Dict[str, Dict[str, int]]: ...
