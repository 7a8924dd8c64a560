"""Presidio's structured anonymizer on a sample of the demo table, for scale beside `compare.sh`.

presidio-structured (from PyPI) is given the demo policy's column mapping up front, as airlock
is, so no time goes to guessing entity types from a sample: keyed hashes for the MRN, Safe
Harbor generalizations as custom operators, replacement for the direct identifiers. Presidio has
no column drop, no per-patient date shift (an operator sees one value, not its row: dates move by
one fixed offset here) and no text in cells: the note column goes through Presidio's
BatchAnalyzerEngine and BatchAnonymizerEngine, timed apart. spaCy's trained models are not on
PyPI, so the analyzer runs its pattern recognizers on a blank pipeline (no NER, so no names):
faster than Presidio as deployed, and weaker. The notes pass runs on the first NOTE_ROWS rows
only (default all; it is about a thousand times slower than the rest). Prints one JSON line.

    python bench_presidio.py RAW.csv ROWS [NOTE_ROWS]

compare.sh runs it on 100,000 rows (notes on 10,000) in its own virtual environment.
"""

import datetime
import hashlib
import hmac
import json
import sys
import tempfile
import time

import pandas as pd
import spacy
from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_anonymizer import BatchAnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from presidio_structured import PandasDataProcessor, StructuredAnalysis, StructuredEngine

KEY = b"bench-key"


def token(value):
    return "P-" + hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:16]


def shift(value):
    try:
        day = datetime.date.fromisoformat(value[:10]) - datetime.timedelta(days=100)
    except ValueError:
        return ""
    return day.isoformat() + value[10:]


def age(value):
    try:
        return "90+" if int(value) >= 90 else value
    except ValueError:
        return ""


COLUMNS = {
    "mrn": ("MRN", OperatorConfig("custom", {"lambda": token})),
    "patient_name": ("PERSON", OperatorConfig("replace", {"new_value": ""})),
    "ssn": ("US_SSN", OperatorConfig("replace", {"new_value": ""})),
    "birth_date": ("BIRTH_DATE", OperatorConfig("custom", {"lambda": lambda v: v[:4]})),
    "street": ("ADDRESS", OperatorConfig("replace", {"new_value": ""})),
    "zip": ("ZIP", OperatorConfig("custom", {"lambda": lambda v: v[:3]})),
    "phone": ("PHONE_NUMBER", OperatorConfig("replace", {"new_value": "[PHONE]"})),
    "email": ("EMAIL_ADDRESS", OperatorConfig("replace", {"new_value": ""})),
    "age": ("AGE", OperatorConfig("custom", {"lambda": age})),
    "admit_date": ("DATE_TIME", OperatorConfig("custom", {"lambda": shift})),
    "discharge_time": ("DATE_TIME", OperatorConfig("custom", {"lambda": shift})),
}


def main():
    raw, rows = sys.argv[1], int(sys.argv[2])
    note_rows = int(sys.argv[3]) if len(sys.argv) > 3 else rows
    df = pd.read_csv(raw, dtype=str, keep_default_na=False, nrows=rows)
    result = {"rows": len(df)}
    t0 = time.perf_counter()
    analysis = StructuredAnalysis(entity_mapping={c: e for c, (e, _) in COLUMNS.items()})
    operators = {e: op for e, op in COLUMNS.values()}
    out = StructuredEngine(data_processor=PandasDataProcessor()).anonymize(
        df, analysis, operators=operators
    )
    result["structured_s"] = time.perf_counter() - t0

    blank = tempfile.mkdtemp(prefix="blank-en-")
    spacy.blank("en").to_disk(blank)
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": blank}]})
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    # warm-up outside the clock (the URL recognizer's tldextract looks for its suffix list on
    # the network once, and falls back to its own copy)
    analyzer.analyze("see www.example.com", language="en")
    t0 = time.perf_counter()
    notes = list(out["note"])[:note_rows]
    result["note_rows"] = len(notes)
    found = BatchAnalyzerEngine(analyzer).analyze_iterator(notes, language="en")
    redacted = BatchAnonymizerEngine().anonymize_list(notes, found)
    texts = [r if isinstance(r, str) else r.text for r in redacted]
    out.loc[: len(texts) - 1, "note"] = texts
    result["notes_s"] = time.perf_counter() - t0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
