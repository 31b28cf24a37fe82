"""The deterministic parts of a contract study against statsmodels and an
independent implementation, on the same data (the study table utfall wrote):

- propensity coefficients: statsmodels Logit (Newton) on the same design;
- matched-sample difference: greedy 1:1 nearest-neighbour matching without
  replacement re-implemented here, on utfall's scores (equal to statsmodels');
- the bias-adjusted estimate: statsmodels OLS of the outcome on the
  covariates among the matched comparisons, pricing the pairs' covariate gaps;
- difference-in-differences: statsmodels OLS of the pre-to-post change on
  participation.

usage: check_statsmodels.py MATCHING_OUT DID_OUT   (two `utfall contract evaluate` outputs)
Prints one line `contract-statsmodels: N passed, M failed`; exits 1 on a failure.
"""
import sys

import numpy as np
import pandas as pd
import statsmodels.api as sm

TOL = 1e-6
passed = failed = 0


def check(name, ok, detail):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}: {detail}")
    else:
        failed += 1
        print(f"FAIL  {name}: {detail}")


def matching(out):
    study = pd.read_parquet(f"{out}/contract_study.parquet")
    coef = pd.read_parquet(f"{out}/contract_propensity.parquet")
    effect = pd.read_parquet(f"{out}/contract_effect.parquet").iloc[0]
    xcols = [c for c in study.columns if c.startswith("x_")]
    X = sm.add_constant(study[xcols].astype(float), has_constant="add")
    fit = sm.Logit(study["treated"].astype(float), X).fit(method="newton", tol=1e-12, maxiter=100, disp=False)
    ours = dict(zip(coef["term"], coef["coefficient"]))
    theirs = {"intercept": fit.params["const"], **{c[2:]: fit.params[c] for c in xcols}}
    worst = max(abs(ours[k] - theirs[k]) for k in theirs)
    check("propensity coefficients vs statsmodels Logit", worst <= TOL, f"{len(theirs)} terms, largest difference {worst:.2e}")

    theirs_logit = X.values @ fit.params.values
    worst = float(np.max(np.abs(theirs_logit - study["propensity_logit"].values)))
    check("propensity scores (logit) vs statsmodels", worst <= TOL, f"largest difference {worst:.2e}")
    # Greedy matching, written independently, on utfall's scores (equal to
    # statsmodels' within 1e-6 above; the same floats, so ties break alike):
    # participants by descending logit; each takes the nearest remaining
    # comparison (the lower one on a tie) if within caliper = 0.2 * sd(logit).
    logit = study["propensity_logit"].values
    treated = study["treated"].values
    caliper = 0.2 * np.std(logit, ddof=1)
    controls = sorted((logit[i], i) for i in range(len(logit)) if not treated[i])
    keys = [c[0] for c in controls]
    free = [True] * len(controls)
    order = sorted((i for i in range(len(logit)) if treated[i]), key=lambda i: (-logit[i], i))
    pairs = []
    import bisect
    for t in order:
        pos = bisect.bisect_left(keys, logit[t])
        lo = pos - 1
        while lo >= 0 and not free[lo]:
            lo -= 1
        hi = pos
        while hi < len(keys) and not free[hi]:
            hi += 1
        cands = []
        if lo >= 0:
            cands.append((abs(logit[t] - keys[lo]), 0, lo))
        if hi < len(keys):
            cands.append((abs(keys[hi] - logit[t]), 1, hi))
        if not cands:
            continue
        d, _, k = min(cands)
        if d <= caliper:
            free[k] = False
            pairs.append((t, controls[k][1]))
    y = study["y_post"].values
    diff = float(np.mean([y[t] - y[c] for t, c in pairs]))
    check(
        "matched-sample difference vs an independent matching",
        abs(diff - effect["matched_difference"]) <= TOL and len(pairs) == effect["matched_pairs"],
        f"{len(pairs)} pairs ({effect['matched_pairs']} in utfall), difference {diff:.9f} vs {effect['matched_difference']:.9f}",
    )
    # Bias adjustment: OLS among the matched comparisons (covariates without
    # variation there left out, as utfall does).
    xs = study[xcols].astype(float).values
    controls = [c for _, c in pairs]
    varies = [j for j in range(len(xcols)) if np.ptp(xs[controls, j]) > 0]
    ols = sm.OLS(y[controls], sm.add_constant(xs[controls][:, varies], has_constant="add")).fit()
    beta = np.zeros(len(xcols))
    beta[varies] = ols.params[1:]
    adjusted = float(np.mean([y[t] - y[c] - (xs[t] - xs[c]) @ beta for t, c in pairs]))
    check(
        "bias-adjusted estimate vs statsmodels OLS on the matched comparisons",
        abs(adjusted - effect["estimate"]) <= TOL,
        f"{adjusted:.9f} vs {effect['estimate']:.9f}",
    )
    ours_pairs = {(t, int(m)) for t, m in enumerate(study["matched_row"]) if treated[t] and not pd.isna(m)}
    check("the same pairs", ours_pairs == set(pairs), f"{len(ours_pairs ^ set(pairs))} pairs differ")


def did(out):
    study = pd.read_parquet(f"{out}/contract_study.parquet")
    effect = pd.read_parquet(f"{out}/contract_effect.parquet").iloc[0]
    change = study["y_post"] - study["y_pre"]
    X = sm.add_constant(study["treated"].astype(float))
    fit = sm.OLS(change, X).fit()
    est = fit.params["treated"]
    check(
        "difference-in-differences vs statsmodels OLS",
        abs(est - effect["estimate"]) <= TOL,
        f"{est:.9f} vs {effect['estimate']:.9f} on {len(study)} enrolments",
    )


matching(sys.argv[1])
did(sys.argv[2])
print(f"contract-statsmodels: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
