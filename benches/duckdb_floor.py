#!/usr/bin/env python3
"""The floor to compare `utfall build` with: DuckDB converting the same export
files to zstd Parquet with no validation, mapping or pseudonymisation.

usage: duckdb_floor.py EXPORTS_DIR OUT_DIR
"""
import pathlib
import sys
import time

import duckdb

exports, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
con.execute("SET threads = 2")
rows = 0
start = time.monotonic()
for csv in sorted(exports.glob("*.csv")):
    # The synthetic provider system exports Windows-1252 with ','; the case system UTF-8 with ';'.
    provider = csv.name == "insatser.csv"
    opts = "delim=',', encoding='latin-1'" if provider else "delim=';'"
    rel = f"read_csv('{csv}', {opts}, header=true, all_varchar=true, ignore_errors=true)"
    n = con.execute(f"SELECT count(*) FROM {rel}").fetchone()[0]
    con.execute(f"COPY (SELECT * FROM {rel}) TO '{out / (csv.stem + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)")
    rows += n
print(f"duckdb {duckdb.__version__}: {rows} rows in {time.monotonic() - start:.2f} s", file=sys.stderr)
