from ._native import text_redact as redact, text_surrogate as surrogate

__all__ = ["redact", "surrogate"]
