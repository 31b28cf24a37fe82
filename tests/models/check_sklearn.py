#!/usr/bin/env python3
"""The risk model against scikit-learn (issue 6).

Trains the shipped re-referral model with `utfall model train
--export-design`, then fits scikit-learn's LogisticRegression on the same
standardised design matrix with the same penalty (sklearn's C = 1/alpha; the
intercept is not penalised in either) and compares:
  - the test AUC: within 0.005 of utfall's;
  - the coefficients: the same signs and the same ranks by absolute size.

usage: check_sklearn.py UTFALL REGISTER OUT [SPEC]
"""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

utfall, register, out = sys.argv[1:4]
spec = sys.argv[4] if len(sys.argv) > 4 else "models/risk/specs/rereferral_12m.toml"
printed = subprocess.run(
    [utfall, "model", "train", "--spec", spec, "--register", register, "--out", out, "--export-design", "--quiet"],
    check=True, capture_output=True, text=True).stdout
artefact = pathlib.Path(printed.strip().splitlines()[-1])
model = json.loads((artefact / "model.json").read_text())
design = pd.read_parquet(artefact / "design.parquet")
coef = pd.read_parquet(artefact / "coefficients.parquet")
evaluation = pd.read_parquet(artefact / "evaluation.parquet")
columns = [c for c in design.columns if c not in ("row_id", "household_id", "side", "label")]
assert columns == list(coef["column"][1:]), "design and coefficient columns differ"
train, test = design[design.side == "train"], design[design.side == "test"]

sk = LogisticRegression(C=1.0 / model["alpha"], solver="lbfgs", tol=1e-10, max_iter=10000)
sk.fit(train[columns].to_numpy(), train["label"].to_numpy())
sk_auc = roc_auc_score(test["label"], sk.predict_proba(test[columns].to_numpy())[:, 1])
ours = evaluation[(evaluation.set == "test") & (evaluation.group == "all")]["auc"].iloc[0]

auc_failures, coef_failures = [], []
if abs(sk_auc - ours) > 0.005:
    auc_failures.append(f"test AUC: utfall {ours:.5f}, scikit-learn {sk_auc:.5f}")
b_ours = coef["coefficient"].to_numpy()[1:]
b_sk = sk.coef_[0]
names = np.array(columns)
signs = np.sign(b_ours) != np.sign(b_sk)
for name, a, b in zip(names[signs], b_ours[signs], b_sk[signs]):
    coef_failures.append(f"sign of {name}: utfall {a:+.6f}, scikit-learn {b:+.6f}")
rank_ours = np.argsort(np.argsort(-np.abs(b_ours)))
rank_sk = np.argsort(np.argsort(-np.abs(b_sk)))
moved = rank_ours != rank_sk
for name, a, b in zip(names[moved], rank_ours[moved], rank_sk[moved]):
    coef_failures.append(f"rank of {name}: utfall {a + 1}, scikit-learn {b + 1}")

print(f"{model['version']}: {len(train)} training rows, {len(test)} test rows, {len(columns)} columns")
print(f"  test AUC utfall {ours:.6f}, scikit-learn {sk_auc:.6f} (difference {abs(ours - sk_auc):.2e})")
print(f"  largest coefficient difference {np.max(np.abs(b_ours - b_sk)):.2e}; "
      f"intercepts {coef['coefficient'][0]:.6f} / {sk.intercept_[0]:.6f}")
for f in auc_failures + coef_failures:
    print("  FAIL", f)
failed = int(bool(auc_failures)) + int(bool(coef_failures))
print(f"model-sklearn: {2 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
