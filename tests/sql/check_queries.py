#!/usr/bin/env python3
"""The SQL surface checked against an independent engine: every named query
(queries/*.sql, with its default parameters and with a second set of values)
and every query in tests/sql/queries/*.sql runs through `utfall query` (result
written as Parquet) and through DuckDB on the same Parquet files of the
register, with the same parameters bound as values. The results must be equal
row for row: same columns, same order, text, dates and integers exactly,
floating-point numbers to a relative 1e-9.

usage: check_queries.py UTFALL REGISTER
Prints one line per query and ends with 'query-sql: N passed, N failed'.
"""
import datetime
import math
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import duckdb

utfall, register = sys.argv[1], Path(sys.argv[2])
root = Path(__file__).resolve().parents[2]

db = duckdb.connect()
for f in sorted(register.glob("*.parquet")):
    db.execute(f"CREATE VIEW \"{f.stem}\" AS SELECT * FROM read_parquet('{f}')")


def named(path):
    """(header, sql) of a named-query file."""
    lines = path.read_text().splitlines()
    head = [l[3:].removeprefix(" ") for l in lines if l.startswith("---")]
    body = [l for l in lines if not l.startswith("---")]
    return tomllib.loads("\n".join(head)), "\n".join(body)


def typed(kind, text):
    if text is None:
        return None
    return {
        "text": str,
        "date": datetime.date.fromisoformat,
        "int": int,
        "float": float,
        "bool": lambda t: t == "true",
    }[kind](text)


def norm(v):
    """A value in a form both engines' results compare in."""
    if isinstance(v, datetime.datetime):
        return v.date() if v.time() == datetime.time(0) else v
    if isinstance(v, bool) or v is None or isinstance(v, (str, datetime.date)):
        return v
    if isinstance(v, (int, float)) or hasattr(v, "__float__"):
        return float(v)
    return v


def same(a, b):
    a, b = norm(a), norm(b)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def compare(label, args, sql, params):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.parquet"
        run = subprocess.run(
            [utfall, "query", "--register", str(register), *args, "--format", "parquet", "--out", str(out)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            return f"utfall failed: {run.stderr.strip()}"
        got = duckdb.sql(f"SELECT * FROM read_parquet('{out}')")
        got_cols, got_rows = got.columns, got.fetchall()
    want = db.execute(sql, params) if params else db.execute(sql)
    want_cols = [d[0] for d in want.description]
    want_rows = want.fetchall()
    if got_cols != want_cols:
        return f"columns differ: utfall {got_cols}, duckdb {want_cols}"
    if len(got_rows) != len(want_rows):
        return f"{len(got_rows)} rows from utfall, {len(want_rows)} from duckdb"
    if not want_rows:
        return "no rows: a check needs data"
    for i, (g, w) in enumerate(zip(got_rows, want_rows)):
        for c, (x, y) in enumerate(zip(g, w)):
            if not same(x, y):
                return f"row {i + 1}, column {want_cols[c]}: utfall {x!r}, duckdb {y!r}"
    return None


cases = []
for path in sorted((root / "queries").glob("*.sql")):
    header, sql = named(path)
    specs = header.get("params", {})
    defaults = {k: s.get("default") for k, s in specs.items()}
    cases.append((f"{path.stem} (defaults)", ["--named", path.stem], sql, specs, {}))
    # A second set: optional parameters given a value, dates moved a year back.
    other = {}
    for k, s in specs.items():
        if s.get("optional"):
            other[k] = {"unit": "bou_vaster", "instrument": "stjarna"}.get(k)
        elif s["type"] == "date" and defaults[k]:
            d = datetime.date.fromisoformat(str(defaults[k]))
            other[k] = d.replace(year=d.year - 1).isoformat()
    other = {k: v for k, v in other.items() if v is not None}
    if other:
        args = ["--named", path.stem] + [a for k, v in other.items() for a in ("--param", f"{k}={v}")]
        cases.append((f"{path.stem} ({', '.join(f'{k}={v}' for k, v in other.items())})", args, sql, specs, other))
for path in sorted((root / "tests/sql/queries").glob("*.sql")):
    cases.append((path.stem, ["--file", str(path)], path.read_text(), {}, {}))

passed = failed = 0
for label, args, sql, specs, given in cases:
    params = {}
    for k, s in specs.items():
        text = given.get(k, s.get("default"))
        params[k] = typed(s["type"], None if text is None else str(text))
    problem = compare(label, args, sql, params)
    if problem:
        failed += 1
        print(f"FAIL {label}: {problem}")
    else:
        passed += 1
        print(f"ok   {label}")
print(f"query-sql: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
