"""Opaque resource ids (never sequential) and FHIR id syntax (FHIR R4 datatypes.html#id).

A server-assigned id is 20 base-62 characters holding 119 random bits — as unguessable as a version-4
UUID (122 random bits) in 20 characters instead of 36.  An id is stored many times over: in its resource
row, the ``(type, id)`` index, and in every reference to it (``sp_reference`` rows and their index,
``patient_id`` of the patient's whole compartment), so 16 fewer bytes per copy is ~120 bytes less storage
per resource at 5 M resources (docs/performance.md).  Ids a client chose (update-as-create) and earlier
UUID ids stay valid: ids are opaque strings everywhere.
"""

from __future__ import annotations

import re
import secrets

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 20
ID_BITS = 119  # 2**119 < 62**20: every draw fits in 20 characters


def encode_id(bits: int) -> str:
    """The fixed-length base-62 form of ``bits`` (0 <= bits < 2**ID_BITS)."""
    if not 0 <= bits < 1 << ID_BITS:
        raise ValueError("id bits out of range")
    out = []
    for _ in range(ID_LENGTH):
        bits, digit = divmod(bits, 62)
        out.append(ID_ALPHABET[digit])
    return "".join(out)


def new_id() -> str:
    """A random id: opaque and unguessable, so ids reveal nothing about volume or order."""
    return encode_id(secrets.randbits(ID_BITS))


def is_valid_id(value: str) -> bool:
    return bool(ID_RE.match(value))
