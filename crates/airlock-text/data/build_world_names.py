#!/usr/bin/env python3
"""Rebuilds world-first-names.txt.zst and world-last-names.txt.zst: given names and surnames of
many countries, from the person providers of the PyPI package Faker (MIT), one list per locale
(most compiled by Faker's contributors from national statistics offices' name lists).

The US lists (census) are built by build_dictionaries.py; the locales `en` and `en_US` are left
out here. A name of several words is split into its words; words of one letter are dropped. The
order is round-robin over the locales, so that every country's common names come early.

Usage: pip download --no-deps faker==40.63.0 && unzip faker-*.whl -d faker-src
       build_world_names.py faker-src OUT_DIR
"""
import importlib
import os
import pkgutil
import subprocess
import sys

SKIP = {"en", "en_US"}


def names(provider, attrs):
    out = []
    for attr in attrs:
        v = provider.__dict__.get(attr)
        for klass in provider.__mro__:
            if attr in klass.__dict__:
                v = klass.__dict__[attr]
                break
        if isinstance(v, dict):
            v = list(v.keys())
        if isinstance(v, (list, tuple)):
            out += [n for n in v if isinstance(n, str)]
    return out


def words(name):
    for w in name.replace("-", " ").split():
        w = w.strip(".,'’").lower()
        if len(w) > 1 and all(c.isalpha() or c in "'’" for c in w):
            yield w


def write(out_dir, name, per_locale):
    seen, lines = set(), []
    longest = max(len(v) for v in per_locale)
    for i in range(longest):
        for v in per_locale:
            if i < len(v):
                for w in words(v[i]):
                    if w not in seen:
                        seen.add(w)
                        lines.append(w)
    raw = ("\n".join(lines) + "\n").encode("utf-8")
    path = os.path.join(out_dir, name + ".zst")
    subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=raw, check=True)
    print(f"{name}: {len(lines)} entries from {len(per_locale)} locales")


def main(src, out_dir):
    sys.path.insert(0, src)
    import faker.providers.person as person

    first, last = [], []
    for m in pkgutil.iter_modules(person.__path__):
        if m.name in SKIP:
            continue
        provider = importlib.import_module(f"faker.providers.person.{m.name}").Provider
        first.append(names(provider, ["first_names", "first_names_female", "first_names_male"]))
        last.append(names(provider, ["last_names", "last_names_female", "last_names_male"]))
    write(out_dir, "world-first-names.txt", [f for f in first if f])
    write(out_dir, "world-last-names.txt", [l for l in last if l])


if __name__ == "__main__":
    main(*sys.argv[1:])
