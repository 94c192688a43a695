"""The patient (and encounter) a SMART app is launched with (issue 4, SMART App Launch v2 launch context).

Read through the repository as the signed-in user: opening an app on a patient is a read of that patient,
refused and audited like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from benhan.clinical.records import patient_name, ref_id
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode


@dataclass(frozen=True, slots=True)
class LaunchSubject:
    patient_id: str
    name: str
    birth_date: str
    gender: str
    encounter_id: str | None = None


async def launch_subject(
    repo: Repository, ctx: RequestContext, patient_id: str, encounter_id: str | None = None
) -> LaunchSubject:
    """The patient as ``ctx`` may see it; the encounter, when given, must be one of that patient's."""
    patient = (await repo.read(ctx, "Patient", patient_id)).json()
    if encounter_id:
        encounter = (await repo.read(ctx, "Encounter", encounter_id)).json()
        if ref_id(encounter.get("subject"), "Patient") != patient_id:
            raise BenhanError(ErrorCode.INVALID_PARAMETER, "The encounter is not the patient's")
    return LaunchSubject(patient_id, patient_name(patient), str(patient.get("birthDate", "")),
                         str(patient.get("gender", "")), encounter_id or None)
