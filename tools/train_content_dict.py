"""Train a zstd dictionary for stored resources or audit records: ``src/benhan/fhir/storage/dicts/<id>.zdict``.

See ``benhan.fhir.storage.content``.  The samples are resources as benhan stores them (``meta.versionId``,
``meta.lastUpdated``, ids) from the synthetic generator with its own seed (not the demo's, not the
benchmark's) plus the demo province's facilities and staff, at most ``--per-type`` of each type so that the
rare types are not drowned by Observations.  The audit log is stored the same way with a dictionary of its
own (``--kind audit``: one trained on both compresses AuditEvents 2.7x instead of 11x): AuditEvents built by
``access.audit`` about the generated resources, reads, searches and writes by staff roles from browsers and
apps, logins and refusals.  A released dictionary never changes (rows written with it
must stay readable): this script refuses to overwrite one; train a new id and set ``content.CURRENT``.

Run from the repository root::

    .venv/bin/python tools/train_content_dict.py --id 1 --kind resource   # content.RESOURCES
    .venv/bin/python tools/train_content_dict.py --id 2 --kind audit --size 16384   # content.AUDIT
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


def samples(patients: int, per_type: int, kind: str) -> list[bytes]:
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
    if kind == "audit":
        refs = [(str(r["resourceType"]), str(r["id"])) for group in groups[1:] for r in group]
        return audit_samples(rng, refs, per_type)
    out: list[bytes] = []
    for type_ in sorted(by_type):
        docs = by_type[type_]
        rng.shuffle(docs)
        out += docs[:per_type]
    return out


def audit_samples(rng: random.Random, refs: list[tuple[str, str]], count: int) -> list[bytes]:
    from uuid import UUID

    from benhan.access.audit import audit_record
    from benhan.fhir.storage.access_types import AuditInfo
    from benhan.kernel.context import RequestContext

    roles = ["doctor", "nurse", "receptionist", "lab", "pharmacist", "insurance", "auditor", "admin"]
    agents = ["Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 "
              "Mobile Safari/537.36", "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "python-httpx/0.28.1", None]
    out = []
    for _ in range(count):
        type_, id_ = rng.choice(refs)
        patient = id_ if type_ == "Patient" else str(UUID(int=rng.getrandbits(128), version=4))
        facility = f"960{rng.randrange(10, 99)}"
        ctx = RequestContext(
            user_id=str(UUID(int=rng.getrandbits(128), version=4)), username=f"user{rng.randrange(500)}",
            practitioner_id=rng.choice([None, f"cm-{facility}-bs{rng.randrange(40)}"]),
            roles=frozenset({rng.choice(roles)}), facility_id=facility,
            department_id=f"{facility}-k{rng.randrange(9)}",
            client_id=rng.choice(["benhan-web", "his-lab", "smart-app"]),
            purpose_of_use=rng.choice(["TREAT", "ETREAT"]),
            remote_addr=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            user_agent=rng.choice(agents), request_id=f"{rng.getrandbits(128):032x}")
        action = rng.choice(["read", "read", "read", "search", "search", "create", "update", "login", "vread"])
        outcome = rng.choice(["success"] * 9 + ["denied"])
        if action == "search":
            query = f"patient=Patient/{patient}&_sort=-date&_count=20"
            info = AuditInfo(action, outcome, type=type_, patient_id=patient, query=query,
                             returned=tuple(f"{t}/{i}" for t, i in rng.sample(refs, rng.randrange(1, 20))))
        elif action == "login":
            info = AuditInfo(action, outcome)
        else:
            info = AuditInfo(action, outcome, type=type_, id=id_, version=1, patient_id=patient)
        when = AS_OF.replace(hour=rng.randrange(24), minute=rng.randrange(60), microsecond=rng.randrange(10**6))
        out.append(audit_record(ctx, info, when).content)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--id", type=int, required=True, help="dictionary id (new ids only)")
    parser.add_argument("--kind", choices=("resource", "audit"), required=True)
    parser.add_argument("--size", type=int, default=32 * 1024, help="dictionary size in bytes")
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--per-type", type=int, default=3000)
    args = parser.parse_args()
    target = OUT / f"{args.id}.zdict"
    if target.exists():
        print(f"{target} exists: released dictionaries never change; train a new id", file=sys.stderr)
        return 1
    docs = samples(args.patients, args.per_type, args.kind)
    trained = zstandard.train_dictionary(args.size, docs, dict_id=args.id, level=3, threads=1)
    OUT.mkdir(parents=True, exist_ok=True)
    target.write_bytes(trained.as_bytes())
    compressor = zstandard.ZstdCompressor(level=3, dict_data=trained)
    packed = sum(len(compressor.compress(d)) for d in docs)
    print(f"{target}: {len(trained.as_bytes()):,} bytes from {len(docs):,} samples; "
          f"{sum(map(len, docs)) / len(docs):.0f} -> {packed / len(docs):.0f} bytes each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
