"""Writes pld_reference.json: epsilon of the Poisson-subsampled Gaussian mechanism by Google's
dp-accounting PLD accountant (its defaults: connect-the-dots, pessimistic, value discretization
interval 1e-4) over a grid of noise multipliers, sampling rates, steps and deltas, and noise
multipliers calibrated with it. airlock's PLD accountant is tested against these numbers.

    python3 -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install dp-accounting==0.6.0
    /tmp/dpvenv/bin/python make_pld_reference.py > pld_reference.json
"""

import importlib.metadata
import json
import sys

import dp_accounting
from dp_accounting import dp_event
from dp_accounting.pld import pld_privacy_accountant

SIGMAS = [0.6, 0.8, 1.0, 1.5, 3.0, 10.0]
QS = [0.001, 0.01, 0.05, 0.2, 1.0]
STEPS = [1, 10, 300, 3000]
DELTAS = [1e-5, 1e-8]


def event(sigma, q, steps):
    return dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps
    )


def pld_accountant(sigma, q, steps):
    acc = pld_privacy_accountant.PLDAccountant()
    acc.compose(event(sigma, q, steps))
    return acc


def relevant(q, steps):
    # DP-SGD composes many steps of small samples; a whole-data step is composed a few times
    # (thousands of q = 1 steps give epsilons in the thousands and PMFs of millions of points)
    return steps <= {1.0: 10, 0.2: 300}.get(q, 3000)


rows = []
for sigma in SIGMAS:
    for q in QS:
        for steps in STEPS:
            if not relevant(q, steps):
                continue
            print(sigma, q, steps, file=sys.stderr, flush=True)
            acc = pld_accountant(sigma, q, steps)
            for delta in DELTAS:
                rows.append(
                    {
                        "noise_multiplier": sigma,
                        "sampling_rate": q,
                        "steps": steps,
                        "delta": delta,
                        "pld_epsilon": acc.get_epsilon(delta),
                    }
                )
            for eps in [0.5, 2.0]:
                rows[-1].setdefault("deltas", []).append(
                    {"epsilon": eps, "delta": acc.get_delta(eps)}
                )

calibrations = []
for target in [1.0, 3.0, 8.0]:
    for q, steps in [(0.01, 1000), (0.1, 100)]:
        delta = 1e-5
        sigma = dp_accounting.calibrate_dp_mechanism(
            pld_privacy_accountant.PLDAccountant,
            lambda s: event(s, q, steps),
            target,
            delta,
        )
        calibrations.append(
            {
                "epsilon": target,
                "sampling_rate": q,
                "steps": steps,
                "delta": delta,
                "noise_multiplier": sigma,
            }
        )

json.dump(
    {
        "source": "dp-accounting " + importlib.metadata.version("dp-accounting"),
        "script": "make_pld_reference.py",
        "accountant": "PLDAccountant() defaults: connect-the-dots, pessimistic, interval 1e-4",
        "mechanism": "Poisson-subsampled Gaussian, add-or-remove-one neighbours, self-composed",
        "rows": rows,
        "calibrations": calibrations,
    },
    sys.stdout,
    indent=1,
)
print()
