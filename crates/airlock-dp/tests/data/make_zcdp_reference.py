"""Writes zcdp_reference.json: the zCDP-to-(epsilon, delta) conversion as OpenDP computes it
(`make_zCDP_to_approxDP` on a Gaussian measurement of known rho), and the rho an (epsilon,
delta) budget allows as smartnoise-synth's MST finds it (a Gaussian scale by OpenDP's binary
search, then its rho). airlock's zcdp module is tested against these numbers.

    python3 -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install opendp==0.14.2
    /tmp/dpvenv/bin/python make_zcdp_reference.py > zcdp_reference.json
"""

import importlib.metadata
import json
import sys

import opendp.prelude as dp
from opendp.mod import enable_features

enable_features("floating-point", "contrib")
DOMAIN = dp.atom_domain(T=float, nan=False)
METRIC = dp.absolute_distance(T=float)


def gaussian(scale):
    return dp.m.make_gaussian(DOMAIN, METRIC, scale)


epsilons = []
for rho in [0.001, 0.01, 0.1, 0.5, 1.0, 5.0]:
    scale = (1.0 / (2.0 * rho)) ** 0.5
    g = gaussian(scale)
    profile = dp.c.make_zCDP_to_approxDP(g).map(1.0)
    for delta in [1e-5, 1e-9]:
        epsilons.append(
            {"rho": g.map(1.0), "delta": delta, "epsilon": profile.epsilon(delta)}
        )

rhos = []
for epsilon in [0.1, 1.0, 3.0, 5.0, 10.0]:
    for delta in [1e-5, 1e-9]:

        def measurement(scale):
            adp = dp.c.make_zCDP_to_approxDP(gaussian(scale))
            return dp.c.make_fix_delta(adp, delta=delta)

        scale = dp.binary_search_param(measurement, d_in=1.0, d_out=(epsilon, delta))
        rhos.append({"epsilon": epsilon, "delta": delta, "rho": gaussian(scale).map(1.0)})

json.dump(
    {
        "source": "opendp " + importlib.metadata.version("opendp"),
        "script": "make_zcdp_reference.py",
        "epsilons": epsilons,
        "rhos": rhos,
    },
    sys.stdout,
    indent=1,
)
print()
