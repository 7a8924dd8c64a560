"""Type stubs of airlock's native module (the Rust engine)."""

from os import PathLike
from typing import Dict, List, Optional, Union, overload

import pyarrow as pa

class AirlockError(Exception):
    """An airlock error: its message names files, columns and settings, never a value."""

class FindingsError(AirlockError):
    """Identifiers remained after de-identification (more than max_findings)."""

class Policy:
    @staticmethod
    def from_toml(path_or_text: str) -> "Policy": ...
    @property
    def toml(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def dataset(self) -> str: ...

class Keys:
    @staticmethod
    def from_file(path: Union[str, PathLike]) -> "Keys": ...
    @staticmethod
    def from_bytes(data: bytes) -> "Keys": ...
    def to_bytes(self) -> bytes: ...
    @property
    def key_id(self) -> str: ...

@overload
def deid(
    data: pa.Table,
    policy: Policy,
    keys: Keys,
    *,
    scan: bool = True,
    max_findings: Optional[int] = 0,
    threads: Optional[int] = None,
) -> pa.Table: ...
@overload
def deid(
    data: pa.RecordBatchReader,
    policy: Policy,
    keys: Keys,
    *,
    scan: bool = True,
    max_findings: Optional[int] = 0,
    threads: Optional[int] = None,
) -> pa.RecordBatchReader: ...
def output_schema(schema: pa.Schema, policy: Policy) -> pa.Schema: ...
@overload
def text_redact(
    text: str, *, known: Optional[Dict[str, List[str]]] = None, mode: str = "strict"
) -> str: ...
@overload
def text_redact(
    text: List[str], *, known: Optional[Dict[str, List[str]]] = None, mode: str = "strict"
) -> List[str]: ...
@overload
def text_surrogate(
    text: str,
    keys: Keys,
    *,
    known: Optional[Dict[str, List[str]]] = None,
    patient: Optional[str] = None,
    mode: str = "strict",
    date_shift_days: int = 365,
) -> str: ...
@overload
def text_surrogate(
    text: List[str],
    keys: Keys,
    *,
    known: Optional[Dict[str, List[str]]] = None,
    patient: Optional[str] = None,
    mode: str = "strict",
    date_shift_days: int = 365,
) -> List[str]: ...
def scan(paths: List[Union[str, PathLike]], *, mode: str = "strict") -> dict: ...
def risk(
    table: pa.Table,
    *,
    qi: List[str],
    sensitive: Optional[str] = None,
    threshold: float = 0.2,
) -> dict: ...
