"""Flower side of `compare.sh`: the same federation as `airlock fl simulate` on the same table.

The same split (every fifth row held out; the other rows grouped by the split column, each
group whole to one site, the largest groups first, each to the site with the fewest rows so
far), the same encoding (read from the spec.json that airlock's simulation wrote: categories,
means and standard deviations), the same model (softmax regression, parameters at zero), the
same local training (one epoch of SGD on Poisson-sampled batches of expected size 64, the
gradient summed over the batch and divided by 64, learning rate 0.5), FedAvg weighted by
examples, N sites, R rounds; with --secagg, Flower's SecAgg+ (SecAggPlusWorkflow and
secaggplus_mod). Flower's simulation runtime (Ray) runs the sites.

    python flower_adult.py DATA.csv SPEC.json --split-by COL --sites 5 --rounds 20 [--secagg]

Prints one JSON line: accuracy after each round on the held-out rows, the final accuracy, the
wall time of the rounds (from the evaluation of the initial model to that of the last round) and of the whole
run (with the runtime's start-up).
"""

import argparse
import csv
import json
import time

import numpy as np


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    names = [n.strip() for n in rows[0]]
    return names, [[c.strip() for c in r] for r in rows[1:] if r]


def encode(names, rows, enc):
    idx = {n: i for i, n in enumerate(names)}
    cols = []
    for f in enc["features"]:
        c = [r[idx[f["name"]]] for r in rows]
        if f["type"] == "numeric":
            v = []
            for x in c:
                try:
                    v.append(float(x))
                except ValueError:
                    v.append(f["mean"])
            cols.append(((np.array(v) - f["mean"]) / f["std"])[:, None])
        else:
            cats = {k: i for i, k in enumerate(f["categories"])}
            m = np.zeros((len(c), len(cats) + 1))
            for i, x in enumerate(c):
                m[i, cats.get(x, len(cats))] = 1.0
            cols.append(m)
    x = np.hstack(cols)
    t = [r[idx[enc["target"]]] for r in rows]
    y = np.array([1 if v == enc["positive"] else 0 for v in t])
    return x, y


def split(names, rows, column, sites):
    c = names.index(column)
    groups, held = {}, []
    for i, r in enumerate(rows):
        if i % 5 == 0:
            held.append(i)
        else:
            groups.setdefault(r[c] or None, []).append(i)
    # airlock orders the groups by value first (a stable sort by size then keeps that order)
    ordered = [groups[k] for k in sorted(groups, key=lambda k: (k is not None, k or ""))]
    ordered.sort(key=len, reverse=True)
    parts = [[] for _ in range(sites)]
    for g in ordered:
        min(parts, key=len).extend(g)
    return [sorted(p) for p in parts], held


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def local_train(w, b, x, y, epochs, batch, lr, rng):
    n = len(y)
    rate = min(1.0, batch / n)
    steps = max(1, int(round(epochs / rate)))
    onehot = np.eye(2)[y]
    for _ in range(steps):
        take = rng.random(n) < rate
        if not take.any():
            continue
        xb, yb = x[take], onehot[take]
        g = softmax(xb @ w + b) - yb
        w = w - lr * (xb.T @ g) / batch
        b = b - lr * g.sum(axis=0) / batch
    return w, b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("spec")
    ap.add_argument("--split-by", required=True)
    ap.add_argument("--sites", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--secagg", action="store_true")
    args = ap.parse_args()

    import flwr
    from flwr.client import ClientApp, NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.common import Context, ndarrays_to_parameters
    from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.simulation import run_simulation

    spec = json.load(open(args.spec))
    enc = spec["encoding"]
    names, rows = read(args.data)
    x, y = encode(names, rows, enc)
    parts, held = split(names, rows, args.split_by, args.sites)
    xt, yt = x[held], y[held]
    d = x.shape[1]
    epochs, batch, lr = spec["local_epochs"], spec["batch_size"], spec["learning_rate"]

    class Site(NumPyClient):
        def __init__(self, k):
            self.k = k
            self.rng = np.random.default_rng(k)

        def fit(self, parameters, config):
            w, b = parameters
            p = parts[self.k]
            w, b = local_train(w, b, x[p], y[p], epochs, batch, lr, self.rng)
            return [w, b], len(p), {}

    def client_fn(context: Context):
        return Site(int(context.node_config["partition-id"])).to_client()

    accuracy, stamps = [], []

    def evaluate(server_round, parameters, config):
        w, b = parameters
        acc = float(((xt @ w + b).argmax(axis=1) == yt).mean())
        stamps.append(time.perf_counter())
        if server_round > 0:
            accuracy.append(acc)
        return 0.0, {"accuracy": acc}

    strategy = FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=args.sites,
        min_available_clients=args.sites,
        initial_parameters=ndarrays_to_parameters([np.zeros((d, 2)), np.zeros(2)]),
        evaluate_fn=evaluate,
    )
    server = ServerApp()

    @server.main()
    def _(grid: Grid, context: Context) -> None:
        ctx = LegacyContext(
            context=context, config=ServerConfig(num_rounds=args.rounds), strategy=strategy
        )
        fit = (
            SecAggPlusWorkflow(num_shares=args.sites, reconstruction_threshold=3)
            if args.secagg
            else None
        )
        workflow = DefaultWorkflow(fit_workflow=fit) if fit else DefaultWorkflow()
        workflow(grid, ctx)

    client = ClientApp(client_fn=client_fn, mods=[secaggplus_mod] if args.secagg else [])
    started = time.perf_counter()
    run_simulation(
        server_app=server,
        client_app=client,
        num_supernodes=args.sites,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )
    total = time.perf_counter() - started
    print(
        json.dumps(
            {
                "flwr": flwr.__version__,
                "secagg": args.secagg,
                "accuracy": accuracy[-1] if accuracy else None,
                "per_round": accuracy,
                "rounds_seconds": stamps[-1] - stamps[0] if len(stamps) > 1 else None,
                "total_seconds": total,
            }
        )
    )


if __name__ == "__main__":
    main()
