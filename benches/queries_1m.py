#!/usr/bin/env python3
"""Benchmark: the SQL surface's query set (every named query with its default
parameters, and every query in tests/sql/queries/) over one register, through
`utfall query` (DataFusion) and through DuckDB on the same Parquet files.

Each query runs RUNS times per engine, each time in a fresh session (a new
`utfall` process; a new DuckDB connection with views over the files), with the
operating system's file cache warm for both. The time compared is what each
engine reports for planning and executing the query up to the last result
batch in memory: `utfall query --timing` on stderr; for DuckDB, the Python
call `execute(...).fetchall()` (results are at most a few
hundred rows, so turning them into Python objects costs microseconds). The process start of `utfall` and its
registering of the tables (reading the Parquet footers) are measured apart, as
"start".

usage: benches/queries_1m.py UTFALL REGISTER [RUNS]
Prints a Markdown table for BENCHMARKS.md.
"""
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import duckdb

utfall, register = sys.argv[1], Path(sys.argv[2])
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
root = Path(__file__).resolve().parents[1]
threads = os.cpu_count()


def typed(kind, text):
    if text is None:
        return None
    return {"text": str, "date": datetime.date.fromisoformat, "int": int, "float": float, "bool": lambda t: t == "true"}[
        kind
    ](str(text))


queries = []
for path in sorted((root / "queries").glob("*.sql")):
    lines = path.read_text().splitlines()
    header = tomllib.loads("\n".join(l[3:].removeprefix(" ") for l in lines if l.startswith("---")))
    sql = "\n".join(l for l in lines if not l.startswith("---"))
    params = {k: typed(s["type"], s.get("default")) for k, s in header.get("params", {}).items()}
    queries.append((path.stem, ["--named", path.stem], sql, params))
for path in sorted((root / "tests/sql/queries").glob("*.sql")):
    queries.append((path.stem, ["--file", str(path)], path.read_text(), {}))


def utfall_once(args):
    start = time.perf_counter()
    run = subprocess.run(
        [utfall, "query", "--register", str(register), *args, "--format", "csv", "--timing"],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"utfall failed on {args}: {run.stderr}")
    m = re.search(r"time: ([0-9.]+) ms \(([0-9]+) rows\)", run.stderr)
    return float(m.group(1)) / 1000, wall, int(m.group(2))


def duckdb_once(sql, params):
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for f in sorted(register.glob("*.parquet")):
        con.execute(f"CREATE VIEW \"{f.stem}\" AS SELECT * FROM read_parquet('{f}')")
    start = time.perf_counter()
    rows = con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed, len(rows)


print(f"register: {register} ({sum(f.stat().st_size for f in register.glob('*.parquet')) / 2**20:.0f} MiB of Parquet); "
      f"{runs} runs per query and engine; DuckDB {duckdb.__version__}, {threads} threads")
print()
print("| query | rows | utfall (ms) | DuckDB (ms) | ratio | utfall start (ms) |")
print("|---|---:|---:|---:|---:|---:|")
ratios, total_u, total_d = [], 0.0, 0.0
for name, args, sql, params in queries:
    # One warm-up each: the file cache, not the engines, should be warm.
    utfall_once(args)
    duckdb_once(sql, params)
    u = [utfall_once(args) for _ in range(runs)]
    d = [duckdb_once(sql, params) for _ in range(runs)]
    if u[0][2] != d[0][1]:
        sys.exit(f"{name}: {u[0][2]} rows from utfall, {d[0][1]} from DuckDB")
    um = statistics.median(x[0] for x in u)
    dm = statistics.median(x[0] for x in d)
    start = statistics.median(x[1] - x[0] for x in u)
    ratios.append(um / dm)
    total_u += um
    total_d += dm
    print(f"| {name} | {u[0][2]} | {um * 1000:.0f} | {dm * 1000:.0f} | {um / dm:.2f} | {start * 1000:.0f} |", flush=True)
geo = statistics.geometric_mean(ratios)
print(f"| **all {len(queries)}** (sum; geometric mean of ratios) | | {total_u * 1000:.0f} | {total_d * 1000:.0f} | {geo:.2f} | |")
