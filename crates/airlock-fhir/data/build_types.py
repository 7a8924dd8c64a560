#!/usr/bin/env python3
"""Rebuilds fhir-r4-types.tsv.zst from fhirpath.js's R4 model (npm package `fhirpath`,
fhir-context/r4/{path2Type,pathsDefinedElsewhere,type2Parent}.json; BSD-style license, NLM).

    npm pack fhirpath && tar xzf fhirpath-*.tgz
    python3 build_types.py package/fhir-context/r4 > /dev/null

Output lines: `T\tpath\ttype` (element type; references as `Reference`),
`E\tpath\tpath` (element defined elsewhere), `P\ttype\tparent` (type hierarchy)."""
import json, sys, subprocess
src = sys.argv[1]
p2t = json.load(open(f"{src}/path2Type.json"))
lines = []
for path, t in sorted(p2t.items()):
    code = t["code"] if isinstance(t, dict) else t
    lines.append(f"T\t{path}\t{code}")
for a, b in sorted(json.load(open(f"{src}/pathsDefinedElsewhere.json")).items()):
    lines.append(f"E\t{a}\t{b}")
for a, b in sorted(json.load(open(f"{src}/type2Parent.json")).items()):
    lines.append(f"P\t{a}\t{b}")
data = ("\n".join(lines) + "\n").encode()
out = subprocess.run(["zstd", "-19", "-q", "-c"], input=data, capture_output=True, check=True).stdout
open("fhir-r4-types.tsv.zst", "wb").write(out)
print(len(lines), len(data), len(out), file=sys.stderr)
