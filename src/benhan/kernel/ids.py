"""Opaque resource ids (never sequential) and FHIR id syntax (FHIR R4 datatypes.html#id)."""

from __future__ import annotations

import re
import uuid

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def new_id() -> str:
    """A random UUID: opaque and unguessable, so ids reveal nothing about volume or order."""
    return str(uuid.uuid4())


def is_valid_id(value: str) -> bool:
    return bool(ID_RE.match(value))
