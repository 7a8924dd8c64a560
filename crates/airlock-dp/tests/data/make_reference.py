"""Writes rdp_reference.json: epsilon of the Poisson-subsampled Gaussian mechanism by Google's
dp-accounting (its RDP accountant with its default orders)
over a grid of noise multipliers, sampling rates, steps and deltas, and calibrated noise
multipliers for target epsilons. airlock's accountant is tested against these numbers.

    python3 -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install dp-accounting==0.6.0
    /tmp/dpvenv/bin/python make_reference.py > rdp_reference.json
"""

import importlib.metadata
import json
import sys

import dp_accounting
from absl import logging as absl_logging
from dp_accounting import dp_event, rdp

# dp-accounting warns for each fractional order whose series does not converge (it drops the
# order, as airlock does); the warnings are not the output
absl_logging.set_verbosity(absl_logging.ERROR)

SIGMAS = [0.5, 0.7, 1.0, 1.3, 2.0, 4.0, 10.0]
QS = [0.0005, 0.004, 0.01, 0.05, 0.2, 1.0]
STEPS = [1, 10, 250, 5000]
DELTAS = [1e-5, 1e-7]


def event(sigma, q, steps):
    return dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps
    )


def rdp_epsilon(sigma, q, steps, delta):
    acc = rdp.RdpAccountant()
    acc.compose(event(sigma, q, steps))
    return acc.get_epsilon(delta)


rows = []
for sigma in SIGMAS:
    for q in QS:
        for steps in STEPS:
            for delta in DELTAS:
                row = {
                    "noise_multiplier": sigma,
                    "sampling_rate": q,
                    "steps": steps,
                    "delta": delta,
                    "rdp_epsilon": rdp_epsilon(sigma, q, steps, delta),
                }
                rows.append(row)

calibrations = []
for target in [0.5, 1.0, 3.0, 8.0]:
    for q, steps in [(0.01, 1000), (0.004, 5000), (0.1, 100)]:
        delta = 1e-5
        sigma = dp_accounting.calibrate_dp_mechanism(
            rdp.RdpAccountant,
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
                "epsilon_at_noise": rdp_epsilon(sigma, q, steps, delta),
            }
        )

json.dump(
    {
        "source": "dp-accounting " + importlib.metadata.version("dp-accounting"),
        "script": "make_reference.py",
        "mechanism": "Poisson-subsampled Gaussian, add-or-remove-one neighbours, self-composed",
        "rows": rows,
        "calibrations": calibrations,
    },
    sys.stdout,
    indent=1,
)
print()
