"""The request shapes the load process sends.  Each workload is one "iteration" of a virtual user; it may
issue several requests, each timed and labelled separately by :class:`Recorder`.

Shapes follow the published FHIR benchmarks so our figures compare with theirs: ``crud`` is the Health
Samurai ``k6/crud.js`` iteration (9 creates, 9 reads, 9 updates, 9 deletes in reverse order); ``bundle``
posts 100-resource patient transaction Bundles (their ``k6/import.js`` posts Synthea bundles).
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench import data

FHIR_JSON = "application/fhir+json"


@dataclass
class Recorder:
    """Per-request latencies (ns) and outcomes of one concurrency level, kept only inside the window."""

    window_start: float = 0.0
    window_end: float = float("inf")
    latencies: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    units: int = 0  # resources carried (bundles count 100 per request)

    def add(self, label: str, started: float, ended: float, ok: bool, detail: str = "", units: int = 1) -> None:
        # Count what completes inside the window (as k6 and wrk do): long requests that started during
        # the warm-up still count, so slow bundles are not under-counted.
        if ended < self.window_start or ended > self.window_end:
            return
        if ok:
            self.latencies.setdefault(label, []).append(int((ended - started) * 1e9))
            self.units += units
        else:
            self.errors[label] = self.errors.get(label, 0) + 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{label}: {detail[:300]}")


@dataclass
class Ctx:
    session: aiohttp.ClientSession
    base: str
    rec: Recorder
    rng: random.Random
    names: data.NameSource
    params: dict[str, Any]

    async def call(self, label: str, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,),
                   units: int = 1, want_json: bool = False) -> Any:
        payload = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": FHIR_JSON} if payload is not None else None
        started = time.perf_counter()
        async with self.session.request(method, f"{self.base}/{path}", data=payload, headers=headers) as resp:
            raw = await resp.read()
            ended = time.perf_counter()
            status = resp.status
        ok = status in expect
        self.rec.add(label, started, ended, ok, f"{status} {method} {path} {raw[:200]!r}", units)
        if not ok:
            return None
        return orjson.loads(raw) if want_json else raw


Workload = Callable[[Ctx], Awaitable[None]]


async def get(ctx: Ctx) -> None:
    """GET a URL template filled with random values: ``{"template": "fhir/{id}", "values": {"id": [...]}}``."""
    values = {k: ctx.rng.choice(v) for k, v in ctx.params["values"].items()}
    await ctx.call(ctx.params.get("label", "get"), "GET", ctx.params["template"].format(**values))


async def create(ctx: Ctx) -> None:
    """Single create of a realistic Patient (issue 2: "single create ≥ 1,000/s at 16-32 clients"); the server
    selection's creates (``params["type"]``) are the same body as a Practitioner."""
    type_ = ctx.params.get("type", "Patient")
    await ctx.call(f"create {type_}", "POST", f"fhir/{type_}", data.person(ctx.rng, ctx.names, type_), expect=(201,))


async def bundle(ctx: Ctx) -> None:
    size = int(ctx.params.get("size", 100))
    await ctx.call("transaction", "POST", "fhir", data.patient_bundle(ctx.rng, ctx.names, size), units=size)


def _change(res: dict[str, Any]) -> None:
    """A small, type-appropriate change for the update step (same idea as the HS benchmark)."""
    kind = res["resourceType"]
    if kind == "Encounter":
        res["status"] = "in-progress" if res.get("status") != "in-progress" else "finished"
    elif kind in ("Location", "Organization"):
        res["name"] = f"{res.get('name', '')} *"
    elif kind == "MedicationRequest":
        res["status"] = "on-hold" if res.get("status") != "on-hold" else "active"
    elif kind == "Observation":
        res["issued"] = "2025-06-01T09:00:00+07:00"
    elif kind in ("Patient", "Practitioner"):
        res["gender"] = "unknown" if res.get("gender") != "unknown" else "other"
    else:
        res["created"] = "2025-06-02T10:00:00+07:00"


CRUD_KINDS = ("Patient", "Location", "Organization", "Practitioner", "Encounter", "Observation", "MedicationRequest",
              "Claim", "ExplanationOfBenefit")


def crud_bodies(rng: random.Random, names: data.NameSource, made: dict[str, dict[str, Any]]) -> list[Any]:
    """The 9 create bodies of one iteration when the ids of ``made`` are known up front (bench/wrk.py fills
    placeholders)."""
    return [make() for _kind, make in _crud_resources(rng, names, made)]


def _crud_resources(rng: random.Random, names: data.NameSource,
                    made: dict[str, dict[str, Any]]) -> list[tuple[str, Callable[[], Any]]]:
    def ident(kind: str) -> str:
        return str(made[kind]["id"])

    return [
        ("Patient", lambda: data.patient(rng, names)),
        ("Location", lambda: data.location(rng)),
        ("Organization", lambda: data.organization(rng)),
        ("Practitioner", lambda: data.practitioner(rng, names)),
        ("Encounter", lambda: data.encounter(rng, ident("Patient"), ident("Location"), ident("Practitioner"),
                                             ident("Organization"))),
        ("Observation", lambda: data.vital(rng, ident("Patient"), ident("Encounter"), rng.randrange(6))),
        ("MedicationRequest", lambda: data.medication_request(rng, ident("Patient"), ident("Encounter"),
                                                              ident("Practitioner"))),
        ("Claim", lambda: data.claim(rng, ident("Patient"), ident("Organization"), ident("Encounter"),
                                     ident("MedicationRequest"))),
        ("ExplanationOfBenefit", lambda: data.explanation_of_benefit(
            rng, ident("Patient"), ident("Practitioner"), ident("Claim"), ident("Encounter"))),
    ]


async def crud(ctx: Ctx) -> None:
    """One Health Samurai CRUD iteration: 36 requests over 9 resource types."""
    made: dict[str, dict[str, Any]] = {}
    for kind, make in _crud_resources(ctx.rng, ctx.names, made):
        res = await ctx.call("create", "POST", f"fhir/{kind}", make(), expect=(201,), want_json=True)
        if res is None:
            return
        made[kind] = res
    for kind, res in made.items():
        await ctx.call("read", "GET", f"fhir/{kind}/{res['id']}")
    for kind, res in made.items():
        _change(res)
        await ctx.call("update", "PUT", f"fhir/{kind}/{res['id']}", res)
    for kind, res in reversed(list(made.items())):
        # FHIR R4 http.html#delete: 200 or 204.
        await ctx.call("delete", "DELETE", f"fhir/{kind}/{res['id']}", expect=(200, 204))


WORKLOADS: dict[str, Workload] = {"get": get, "create": create, "bundle": bundle, "crud": crud}
