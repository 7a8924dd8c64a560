"""Free text: the detector of `airlock text redact|surrogate`."""

from ._native import text_redact as redact
from ._native import text_surrogate as surrogate

__all__ = ["redact", "surrogate"]
