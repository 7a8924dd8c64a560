#!/usr/bin/env python3
"""Rebuilds the vendored dictionaries of airlock-text from their public sources.

Inputs (fetch with pip / apt, then pass the paths):
  names-0.3.0 (PyPI, MIT): dist.male.first, dist.female.first, dist.all.last
      = the US Census Bureau's 1990 name frequency files (public domain).
  wamerican and wamerican-huge (Debian): /usr/share/dict/american-english (SCOWL size 50) and
      american-english-huge (size 80) (permissive, see README.md).

Outputs (zstd level 19, one entry a line, lower case, most frequent first where the source
has frequencies): first-names.txt.zst, last-names.txt.zst, english-words.txt.zst (size 50),
rare-words.txt.zst (in size 80, not in size 50). us-places.txt.zst is built by
build_us_places.py, the other countries' names by build_world_names.py.

Usage: build_dictionaries.py NAMES_DIR WORDS_FILE HUGE_WORDS_FILE OUT_DIR
"""
import os
import subprocess
import sys


def census(path):
    with open(path) as f:
        return [line.split()[0].lower() for line in f if line.strip()]


def write(out_dir, name, entries):
    seen, lines = set(), []
    for e in entries:
        e = " ".join(e.split()).lower()
        if e and e not in seen:
            seen.add(e)
            lines.append(e)
    raw = ("\n".join(lines) + "\n").encode("ascii", "ignore")
    path = os.path.join(out_dir, name + ".zst")
    subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=raw, check=True)
    print(f"{name}: {len(lines)} entries")


def lower_words(path):
    words = []
    with open(path) as f:
        for w in f:
            w = w.strip()
            if w and w.islower() and w.isalpha() and w.isascii():
                words.append(w)
    return words


def main(names_dir, words_file, huge_file, out_dir):
    male = census(os.path.join(names_dir, "dist.male.first"))
    female = census(os.path.join(names_dir, "dist.female.first"))
    # Interleave so that the order stays roughly by frequency across both lists.
    first = [n for pair in zip(male, female) for n in pair]
    first += male[len(female):] + female[len(male):]
    write(out_dir, "first-names.txt", first)
    write(out_dir, "last-names.txt", census(os.path.join(names_dir, "dist.all.last")))

    words = lower_words(words_file)
    write(out_dir, "english-words.txt", words)
    common = set(words)
    write(out_dir, "rare-words.txt", [w for w in lower_words(huge_file) if w not in common])


if __name__ == "__main__":
    main(*sys.argv[1:5])
