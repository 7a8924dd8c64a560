"""Opacus side of `compare.sh`: the same task as `airlock train` (softmax regression, 2 classes)
on the same train/test files, the same feature encoding (numbers standardized on the training
rows, other columns one-hot over their 64 most frequent training values plus "other"), the same
DP-SGD settings (Poisson sampling at batch/N, per-example clipping, noise calibrated by Opacus's
RDP accountant to the target epsilon, SGD, mean over the expected batch), on one CPU thread.

    python opacus_adult.py TRAIN.csv TEST.csv --target salary-class --positive '>50K' \
        [--epsilon E] [--epochs 5] [--batch-size 256] [--lr 0.5] [--clip 1.0] [--seed 0]

Prints one JSON line: accuracy, epsilon, seconds (training only), examples per second.
"""

import argparse
import csv
import json
import time
from collections import Counter

import torch
from opacus import PrivacyEngine


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def encode(names, train, test, target, positive):
    t = names.index(target)
    feats = []
    for c, name in enumerate(names):
        if c == t:
            continue
        values = [r[c].strip() for r in train if r[c].strip()]
        nums = []
        for v in values:
            try:
                nums.append(float(v))
            except ValueError:
                pass
        if values and len(nums) >= 0.98 * len(values):
            mean = sum(nums) / len(nums)
            var = sum((x - mean) ** 2 for x in nums) / len(nums)
            feats.append(("num", c, mean, var ** 0.5 if var > 0 else 1.0))
        else:
            cats = [v for v, _ in sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))[:64]]
            feats.append(("cat", c, {v: i for i, v in enumerate(cats)}, len(cats)))

    def row(r):
        x = []
        for f in feats:
            if f[0] == "num":
                _, c, mean, std = f
                try:
                    v = float(r[c])
                except ValueError:
                    v = mean
                x.append((v - mean) / std)
            else:
                _, c, index, k = f
                at = index.get(r[c].strip(), k)
                x.extend(1.0 if i == at else 0.0 for i in range(k + 1))
        return x

    def xy(rows):
        x = torch.tensor([row(r) for r in rows], dtype=torch.float32)
        y = torch.tensor([1 if r[t].strip() == positive else 0 for r in rows])
        return x, y

    return xy(train), xy(test)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("train")
    p.add_argument("test")
    p.add_argument("--target", required=True)
    p.add_argument("--positive", required=True)
    p.add_argument("--epsilon", type=float)
    p.add_argument("--delta", type=float, default=1e-5)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    names, train = read(a.train)
    _, test = read(a.test)
    (xtr, ytr), (xte, yte) = encode(names, train, test, a.target, a.positive)
    model = torch.nn.Linear(xtr.shape[1], 2)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    data = torch.utils.data.TensorDataset(xtr, ytr)
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch_size, shuffle=True)
    eps = None
    if a.epsilon is not None:
        engine = PrivacyEngine(accountant="rdp")
        model, opt, loader = engine.make_private_with_epsilon(
            module=model,
            optimizer=opt,
            data_loader=loader,
            target_epsilon=a.epsilon,
            target_delta=a.delta,
            epochs=a.epochs,
            max_grad_norm=a.clip,
            poisson_sampling=True,
        )
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    seen = 0
    for _ in range(a.epochs):
        for xb, yb in loader:
            if len(yb) == 0:
                continue
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
            seen += len(yb)
    seconds = time.perf_counter() - start
    if a.epsilon is not None:
        eps = engine.get_epsilon(a.delta)
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(json.dumps({"accuracy": acc, "epsilon": eps, "seconds": seconds, "examples_per_second": seen / seconds}))


if __name__ == "__main__":
    main()
