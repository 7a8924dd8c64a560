"""Fits a peer synthesizer on a CSV and samples as many rows: smartnoise-synth's MST (every
column categorical, the same epsilon and delta as airlock) or SDV's GaussianCopula (no
privacy). Prints the seconds fit and sample took (imports excluded), as JSON.

    peers.py mst|gaussiancopula TRAIN.csv OUT.csv [EPSILON] [DELTA]
"""

import json
import sys
import time
import warnings

import pandas as pd

warnings.filterwarnings("ignore")
which, train, out = sys.argv[1], sys.argv[2], sys.argv[3]
if which == "mst":
    from snsynth import Synthesizer

    epsilon, delta = float(sys.argv[4]), float(sys.argv[5])
    df = pd.read_csv(train, dtype=str, keep_default_na=False)
    start = time.perf_counter()
    synth = Synthesizer.create("mst", epsilon=epsilon, delta=delta, verbose=False)
    synth.fit(df, categorical_columns=list(df.columns), preprocessor_eps=0.0)
    rows = synth.sample(len(df))
elif which == "gaussiancopula":
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    df = pd.read_csv(train)
    start = time.perf_counter()
    meta = Metadata.detect_from_dataframes({"table": df})
    synth = GaussianCopulaSynthesizer(meta)
    synth.fit({"table": df})
    rows = synth.sample(len(df))
    rows = rows["table"] if isinstance(rows, dict) else rows
else:
    sys.exit(f"unknown peer {which}")
seconds = time.perf_counter() - start
rows.to_csv(out, index=False)
print(json.dumps({"seconds": seconds, "rows": len(rows)}))
