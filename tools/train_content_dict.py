"""Train a zstd dictionary for stored resources: ``src/benhan/fhir/storage/dicts/<id>.zdict``.

See ``benhan.fhir.storage.content``.  The samples are resources as benhan stores them (``meta.versionId``,
``meta.lastUpdated``, ids) from the synthetic generator with its own seed (not the demo's, not the
benchmark's) plus the demo province's facilities and staff, at most ``--per-type`` of each type so that the
rare types are not drowned by Observations.  A released dictionary never changes (rows written with it
must stay readable): this script refuses to overwrite one; train a new id and set ``content.CURRENT``.

Run from the repository root::

    .venv/bin/python tools/train_content_dict.py --id 1
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/benhan/fhir/storage/dicts"
SEED = 4750
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def samples(patients: int, per_type: int) -> list[bytes]:
    from benhan.demo.province import build_province
    from benhan.fhir.storage.prepare import stamp
    from benhan.synth.generator import generate

    province = build_province()
    by_type: dict[str, list[bytes]] = defaultdict(list)
    rng = random.Random(SEED)
    groups = [province.resources, *generate(SEED, patients, province.world, AS_OF)]
    for group in groups:
        for res in group:
            type_ = str(res["resourceType"])
            when = AS_OF.replace(second=rng.randrange(60), microsecond=rng.randrange(1000) * 1000)
            by_type[type_].append(stamp(res, type_, str(res["id"]), rng.randrange(1, 4), when))
    out: list[bytes] = []
    for type_ in sorted(by_type):
        docs = by_type[type_]
        rng.shuffle(docs)
        out += docs[:per_type]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--id", type=int, required=True, help="dictionary id (new ids only)")
    parser.add_argument("--size", type=int, default=32 * 1024, help="dictionary size in bytes")
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--per-type", type=int, default=3000)
    args = parser.parse_args()
    target = OUT / f"{args.id}.zdict"
    if target.exists():
        print(f"{target} exists: released dictionaries never change; train a new id", file=sys.stderr)
        return 1
    docs = samples(args.patients, args.per_type)
    trained = zstandard.train_dictionary(args.size, docs, dict_id=args.id, level=3, threads=1)
    OUT.mkdir(parents=True, exist_ok=True)
    target.write_bytes(trained.as_bytes())
    compressor = zstandard.ZstdCompressor(level=3, dict_data=trained)
    packed = sum(len(compressor.compress(d)) for d in docs)
    print(f"{target}: {len(trained.as_bytes()):,} bytes from {len(docs):,} resources; "
          f"{sum(map(len, docs)) / len(docs):.0f} -> {packed / len(docs):.0f} bytes per resource")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
