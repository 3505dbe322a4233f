#!/usr/bin/env python3
"""Regenerate emojigan's shipped OpenMoji catalog (src/emojigan/data/openmoji.csv).

The catalog is OpenMoji's own metadata file `data/openmoji.csv` from the npm package
`openmoji@17.0.0`, reduced to the columns emojigan uses. Usage:

    npm pack openmoji@17.0.0            # writes openmoji-17.0.0.tgz (the registry is the only source)
    python scripts/make_catalog.py openmoji-17.0.0.tgz

The argument may also be an extracted `openmoji.csv`. OpenMoji is licensed CC BY-SA 4.0;
the catalog keeps that licence (see src/emojigan/data/OPENMOJI.md).
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
import tarfile
from pathlib import Path

COLUMNS = ["hexcode", "emoji", "group", "subgroups", "annotation", "tags", "openmoji_tags", "skintone",
           "skintone_base_hexcode", "order"]
OUT = Path(__file__).resolve().parents[1] / "src" / "emojigan" / "data" / "openmoji.csv"


def read_source(path: Path) -> str:
    if path.suffix in {".tgz", ".gz"}:
        with tarfile.open(path) as tar:
            member = tar.extractfile("package/data/openmoji.csv")
            if member is None:
                raise SystemExit(f"{path}: no package/data/openmoji.csv inside")
            return member.read().decode("utf-8")
    return path.read_text(encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="openmoji-17.0.0.tgz from `npm pack`, or its data/openmoji.csv")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = list(csv.DictReader(io.StringIO(read_source(args.source))))
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        print(f"source lacks columns {missing}", file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} emojis to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
