"""Writes the 80/20 split of the adult table the benchmark scripts share (a fixed shuffle, seed
7): DIR/train.csv and DIR/test.csv, semicolons turned to commas.

    python3 adult_split.py ADULT.csv DIR
"""

import random
import sys

lines = open(sys.argv[1]).read().splitlines()
header, rows = lines[0].replace(";", ","), [l.replace(";", ",") for l in lines[1:] if l]
random.Random(7).shuffle(rows)
cut = int(len(rows) * 0.8)
for name, part in (("train.csv", rows[:cut]), ("test.csv", rows[cut:])):
    open(f"{sys.argv[2]}/{name}", "w").write("\n".join([header] + part) + "\n")
