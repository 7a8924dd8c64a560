#!/usr/bin/env python3
"""Rebuilds drug-names.txt.zst from the PyPI package drug-named-entity-recognition (MIT):
every single-word drug name and brand variant in its dictionary, lower case, four letters or
more. Used by the detector only to explain a word (a drug is no name), never to find one.

Usage: pip download --no-deps drug-named-entity-recognition==2.0.9, unzip the wheel, then
  build_drug_names.py PATH/drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2 OUT_DIR
"""
import bz2
import os
import pickle
import re
import subprocess
import sys

dictionary = pickle.load(bz2.open(sys.argv[1]))
words = sorted(
    {
        v.strip().lower()
        for v in dictionary["drug_variant_to_canonical"]
        if re.fullmatch(r"[a-z][a-z-]{3,}", v.strip().lower())
    }
)
raw = ("\n".join(words) + "\n").encode("ascii")
path = os.path.join(sys.argv[2], "drug-names.txt.zst")
subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=raw, check=True)
print(f"drug-names.txt: {len(words)} entries")
