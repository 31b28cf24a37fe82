#!/usr/bin/env python3
"""Operating characteristics of the contract study's effect estimates.

Each replication generates a synthetic municipality with its own seed
(`utfall synth`; the planted programmes' effects on the treated are in
truth/truth.json), builds its register (`utfall build`), and evaluates a
shipped contract twice: by matched comparison and by
difference-in-differences (`--method`). Per method it reports the bias of
the estimate against the planted effect and the share of 95% bootstrap
intervals that cover it.

--spec jobbsteget (the default): employment support for adults on income
support, the planted effect on employment status (truth contract_programme).
Acceptance (issue 7): |bias| < 10% of the planted effect and coverage
between 92% and 98%, for both methods.
--spec norrkoping: the team for children placed in residential care, the
planted effect on school attendance (truth placement_programme). Acceptance
(issue 17): coverage between 93% and 97% (and |bias| < 10%).
--spec hasselby: the youth team for young people reported again but not
investigated, the planted change from the team's start in the mean of four
assessment domains (truth referral_programme); pre-post only (the contract's
method: nobody outside the team is assessed). Same acceptance as Norrköping.
With --reduced (CI's short run) the limits are widened by the Monte Carlo
error of the number of replications run: bias within 10% plus 2.58 Monte
Carlo standard errors, coverage inside the central 99% of Binomial(R, 0.95) / R.

usage: contract_replications.py UTFALL WORKDIR [--spec jobbsteget|norrkoping|hasselby] [--replications 300]
       [--clients 20000] [--bootstrap 499] [--jobs 2] [--first-seed 1] [--reduced]
Writes WORKDIR/replications.csv; prints a summary; exits 1 if a criterion fails.
"""
import argparse
import concurrent.futures as cf
import csv
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

SPECS = Path(__file__).resolve().parent.parent / "models/contracts/specs"
# spec -> (the planted effect in truth.json, coverage limits, methods)
COMPARISONS = ["matched_comparison", "difference_in_differences"]
STUDIES = {
    "jobbsteget": (("contract_programme", "att_employment_status"), (0.92, 0.98), COMPARISONS),
    "norrkoping": (("placement_programme", "att_school_attendance"), (0.93, 0.97), COMPARISONS),
    "hasselby": (("referral_programme", "mean_change"), (0.93, 0.97), ["pre_post"]),
}
SPEC = None  # the shipped spec, copied into WORKDIR at the start, so that edits during a run do not matter
TRUTH = STUDIES["jobbsteget"][0]
METHODS = COMPARISONS


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}\n{r.stdout}\n{r.stderr}")


def replicate(utfall, work, seed, clients, bootstrap):
    d = work / f"rep-{seed}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    try:
        run([utfall, "synth", "--out", d, "--clients", str(clients), "--seed", str(seed), "--quiet"])
        run([utfall, "key", "new", "--out", d / "k.key", "--quiet"])
        run([utfall, "build", "--input", d / "exports", "--key", d / "k.key", "--register", d / "register",
             "--as-of", "2025-12-31", "--no-indicators", "--quiet"])
        section, key = TRUTH
        truth = json.loads((d / "truth/truth.json").read_text())[section][key]
        rows = []
        for m in METHODS:
            out = d / m
            run([utfall, "contract", "evaluate", SPEC, "--register", d / "register", "--out", out,
                 "--method", m, "--bootstrap", str(bootstrap), "--seed", str(seed), "--quiet"])
            e = pd.read_parquet(out / "contract_effect.parquet").iloc[0]
            rows.append({
                "seed": seed, "method": m, "truth": truth, "estimate": e["estimate"], "ci_low": e["ci_low"],
                "ci_high": e["ci_high"], "bootstrap_se": e["bootstrap_se"], "participants": int(e["participants"]),
                "comparisons": int(e["comparisons"]),
                "replicates_used": int(e["bootstrap_replicates"]),
                "replicates_requested": int(e["bootstrap_requested"]),
                "covered": bool(e["ci_low"] <= truth <= e["ci_high"]),
                # The interval's standard error and its source; the bootstrap's beside it.
                "se": e.get("se", e["bootstrap_se"]),
                "se_method": e.get("se_method", "bootstrap"),
                "covered_bootstrap": bool(abs(e["estimate"] - truth) <= 1.959963984540054 * e["bootstrap_se"]),
            })
        return rows
    finally:
        shutil.rmtree(d, ignore_errors=True)


def binom_interval(n, p, mass=0.99):
    """Central `mass` acceptance region of Binomial(n, p), as shares."""
    cdf, lo, hi = 0.0, None, None
    for k in range(n + 1):
        cdf += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if lo is None and cdf > (1 - mass) / 2:
            lo = k
        if hi is None and cdf >= 1 - (1 - mass) / 2:
            hi = k
    return lo / n, hi / n


def main():
    a = argparse.ArgumentParser()
    a.add_argument("utfall")
    a.add_argument("work", type=Path)
    a.add_argument("--replications", type=int, default=300)
    a.add_argument("--clients", type=int, default=20000)
    a.add_argument("--bootstrap", type=int, default=499)
    a.add_argument("--jobs", type=int, default=2)
    a.add_argument("--first-seed", type=int, default=1)
    a.add_argument("--reduced", action="store_true")
    a.add_argument("--spec", choices=sorted(STUDIES), default="jobbsteget")
    a.add_argument("--method", default=None, help="evaluate by this method only (default: the study's methods)")
    a.add_argument("--interval", choices=["bootstrap", "matched_pairs"], default=None,
                   help="the matched comparison's standard error (default: the spec's)")
    args = a.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    global SPEC, TRUTH, METHODS
    TRUTH, coverage_limits, METHODS = STUDIES[args.spec]
    if args.method:
        METHODS = [args.method]
    SHIPPED_SPEC = SPECS / f"{args.spec}.toml"
    SPEC = args.work / "spec.toml"
    # The shipped spec, with one change: a study whose household bootstrap
    # loses more than 20% of its replicates (singular propensity fits in small
    # resamples) is refused; the shipped 95% refuses about one study in 30 at
    # 12,000 clients, which says nothing about the estimators' bias and
    # coverage. Replicates used are reported per method below.
    text = SHIPPED_SPEC.read_text(encoding="utf-8")
    assert "\n[validation]\n" in text
    extra = "min_replicate_share = 0.8\n"
    if args.interval:
        text = "\n".join(l for l in text.split("\n") if not l.startswith("interval = "))
        if args.interval == "matched_pairs":
            extra += 'interval = "matched_pairs"\n'
    SPEC.write_text(text.replace("\n[validation]\n", "\n[validation]\n" + extra, 1), encoding="utf-8")
    start = time.time()
    rows = []
    errors = []
    seeds = range(args.first_seed, args.first_seed + args.replications)
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(replicate, args.utfall, args.work, s, args.clients, args.bootstrap) for s in seeds]
        for i, f in enumerate(cf.as_completed(futures), 1):
            try:
                rows.extend(f.result())
            except Exception as e:  # a failed replication fails the run, after the others finish
                errors.append(str(e))
            if i % 10 == 0:
                print(f"  {i}/{args.replications} replications, {time.time() - start:.0f} s", flush=True)
    for e in errors:
        print(f"replication failed: {e}")
    if not rows:
        print(f"contract-replications: 0 passed, {len(errors)} failed")
        sys.exit(1)
    df = pd.DataFrame(rows).sort_values(["method", "seed"])
    df.to_csv(args.work / "replications.csv", index=False)
    r = args.replications
    passed, failed = 0, len(errors)
    print(f"{args.spec}: {r} replications of {args.clients} clients, {args.bootstrap} bootstrap replicates each, "
          f"{time.time() - start:.0f} s")
    for m in METHODS:
        x = df[df.method == m]
        truth = x.truth.iloc[0]
        bias = x.estimate.mean() - truth
        sd = x.estimate.std(ddof=1)
        mc_se = sd / math.sqrt(len(x))
        coverage = x.covered.mean()
        bias_limit = 0.10 * abs(truth) + (2.58 * mc_se if args.reduced else 0.0)
        cov_lo, cov_hi = binom_interval(len(x), 0.95) if args.reduced else coverage_limits
        bias_ok = abs(bias) < bias_limit
        cov_ok = cov_lo <= coverage <= cov_hi
        passed += int(bias_ok) + int(cov_ok)
        failed += int(not bias_ok) + int(not cov_ok)
        print(f"{m}: planted {truth:.3f}, mean estimate {x.estimate.mean():.4f}, bias {bias:+.4f} "
              f"({100 * bias / truth:+.1f}% of the effect; limit {100 * bias_limit / truth:.1f}%) "
              f"{'ok' if bias_ok else 'FAIL'}; empirical SD {sd:.4f}, mean bootstrap SE {x.bootstrap_se.mean():.4f}; "
              f"95% CI coverage {100 * coverage:.1f}% (limits {100 * cov_lo:.1f}-{100 * cov_hi:.1f}%) "
              f"{'ok' if cov_ok else 'FAIL'}; participants {x.participants.mean():.0f}, comparisons {x.comparisons.mean():.0f} on average; "
              f"bootstrap replicates used {x.replicates_used.sum()} of {x.replicates_requested.sum()} requested "
              f"(fewest in one study: {x.replicates_used.min()})")
        if (x.se_method == "matched_pairs").any():
            print(f"  {m}: standard error from the matched pairs (mean {x.se.mean():.4f}); the household "
                  f"bootstrap's interval would cover {100 * x.covered_bootstrap.mean():.1f}%")
    print(f"contract-replications: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
