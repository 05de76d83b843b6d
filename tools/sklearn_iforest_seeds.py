#!/usr/bin/env python3
"""How much scikit-learn's own IsolationForest disagrees with itself over seeds.

The seed method's isolation forest decides its flagged set by which tied (Protocol, Length)
group crosses the 0.45 % line, so its count moves with `random_state`, and its scores' rank
order moves a little. This measures both on a capture over seeds 0..SEEDS-1 (and 42, the
reference's seed): the flagged count of each seed, and the Spearman rank correlation of each
seed's scores with seed 42's and of every pair of seeds. `netsieve parity` derives its
isolation-forest bounds from this file and prints where Netsieve's forests fall in it
(`netsieve parity --iforest-seeds 20` measures Netsieve's side the same way).

usage: python3 -m venv .venv && .venv/bin/pip install scikit-learn pandas scipy
       .venv/bin/python tools/sklearn_iforest_seeds.py ../shared/data/lab-120k.csv [SEEDS] > src/parity/iforest_seeds.sklearn.json
"""
import itertools
import json
import sys

import numpy as np
import pandas as pd
import sklearn
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest

path = sys.argv[1]
n_seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
df = pd.read_csv(path, encoding="latin-1")
codes = {p: i for i, p in enumerate(sorted(df["Protocol"].unique()))}
X = np.column_stack([df["Protocol"].map(codes).values, df["Length"].values]).astype(np.float32)

seeds = list(range(n_seeds)) + ([42] if n_seeds <= 42 else [])
counts, scores = {}, {}
for s in seeds:
    forest = IsolationForest(contamination=0.0045, random_state=s).fit(X)
    counts[s] = int((forest.predict(X) == -1).sum())
    scores[s] = -forest.score_samples(X)

others = [s for s in seeds if s != 42]
vs_42 = {s: float(spearmanr(scores[s], scores[42]).statistic) for s in others}
pairwise = [float(spearmanr(scores[a], scores[b]).statistic) for a, b in itertools.combinations(others, 2)]
json.dump(
    {
        "what": "scikit-learn IsolationForest(contamination=0.0045) on [LabelEncoder(Protocol), Length]",
        "capture": path.rsplit("/", 1)[-1],
        "scikit_learn": sklearn.__version__,
        "seeds": others,
        "count": [counts[s] for s in others],
        "count_seed_42": counts[42],
        "spearman_vs_seed_42": [vs_42[s] for s in others],
        "spearman_pairwise": {
            "pairs": len(pairwise),
            "min": min(pairwise),
            "median": float(np.median(pairwise)),
            "max": max(pairwise),
        },
    },
    sys.stdout,
    indent=1,
)
print()
