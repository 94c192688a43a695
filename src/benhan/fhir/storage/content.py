"""The stored form of a resource's JSON: the ``content`` column of ``resource``, ``resource_history`` and
``audit_log``.

Resources are small (about 1 kB) and alike: the same code systems, tags, reference prefixes and element
names in every one.  PostgreSQL compresses a value only when its row passes ~2 kB (TOAST_TUPLE_THRESHOLD),
so it stores nearly every resource as written, and that JSON was half of the database.  Each resource is
therefore compressed on its own with zstd (RFC 8878) against a shared dictionary (RFC 8878 §5) trained on
resources (``tools/train_content_dict.py``); one resource still reads without touching any other.

A stored value is one of:

- the JSON itself, first byte ``{``: rows written before compression existed, deleted markers (empty),
  and the types whose search reads the JSON in SQL (:data:`PLAIN_TYPES`);
- one zstd frame whose header names its dictionary (``Dictionary_ID``, RFC 8878 §3.1.1.1.3).

Dictionaries ship under ``dicts/`` as ``<id>.zdict`` and never change once released: a better one takes a
new id (:data:`RESOURCES`, :data:`AUDIT`) and every older one stays, to read the rows written with it.
AuditEvents (the audit log) have a dictionary of their own: trained together with resources, one dictionary
compresses them 2.7x instead of 11x.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources

import zstandard

__all__ = ["AUDIT", "PLAIN_TYPES", "RESOURCES", "pack", "unpack"]

#: the dictionaries new rows are written with: resources, and the audit log's AuditEvents
RESOURCES = 1
AUDIT = 2
#: MolecularSequence's N-part composites are checked by an SQL/JSON path over the stored JSON
#: (search/composite.py), so its rows stay plain JSON
PLAIN_TYPES = frozenset({"MolecularSequence"})
_LEVEL = 3  # zstd's default; higher levels gain ~3 % on 1 kB documents at twice the time
#: AuditEvents at level 1 (zstd's "fast" strategy, one hash table): 2 % larger than at level 3 (a read's
#: record 151 -> 154 bytes of ~1.9 kB), and 4.8-7.1 us less of the server's CPU per audited read over HTTP
#: (``python -m bench.ab``, two runs of 10 rounds), more than the 0.16 us it saves in a loop of its own: in a
#: server its tables are cold at each record, and level 1's are smaller
_LEVELS = {AUDIT: 1}
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _PerThread(threading.local):
    """zstandard (de)compressor objects are not safe to share between threads: each thread builds its own,
    one per dictionary, on first use."""

    def __init__(self) -> None:
        self.compressors: dict[int, zstandard.ZstdCompressor] = {}
        self.decompressors: dict[int, zstandard.ZstdDecompressor] = {}


_local = _PerThread()


def _level(dict_id: int) -> int:
    return _LEVELS.get(dict_id, _LEVEL)


@cache
def _dictionary(dict_id: int) -> zstandard.ZstdCompressionDict:
    """The dictionary, digested once for compression at its level (zstd's ``ZSTD_createCDict``): without
    that, a compressor with a raw dictionary reloads its tables into the context for every frame (an audit
    record with cold caches: 11.2 -> 7.1 us; the same bytes out)."""
    data = resources.files("benhan.fhir.storage").joinpath("dicts", f"{dict_id}.zdict").read_bytes()
    found = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
    found.precompute_compress(level=_level(dict_id))
    return found


def _compressor(dict_id: int) -> zstandard.ZstdCompressor:
    found = _local.compressors.get(dict_id)
    if found is None:
        found = _local.compressors[dict_id] = zstandard.ZstdCompressor(
            level=_level(dict_id), dict_data=_dictionary(dict_id), write_checksum=False,
            write_content_size=True, write_dict_id=True,
        )
    return found


def _decompressor(dict_id: int) -> zstandard.ZstdDecompressor:
    found = _local.decompressors.get(dict_id)
    if found is None:
        found = _local.decompressors[dict_id] = zstandard.ZstdDecompressor(dict_data=_dictionary(dict_id))
    return found


def pack(json_bytes: bytes, type_: str) -> bytes:
    """The stored form of version JSON ``json_bytes`` of a ``type_`` resource."""
    if not json_bytes or type_ in PLAIN_TYPES:
        return json_bytes
    return _compressor(AUDIT if type_ == "AuditEvent" else RESOURCES).compress(json_bytes)


def unpack(stored: bytes | memoryview) -> bytes:
    """The JSON bytes of a stored value (either form); raises ``ValueError`` for anything else."""
    data = bytes(stored)
    if not data or data[:1] == b"{":
        return data
    if data[:4] != _ZSTD_MAGIC:
        raise ValueError("stored resource content is neither JSON nor a zstd frame")
    dict_id = zstandard.get_frame_parameters(data).dict_id
    try:
        return _decompressor(dict_id).decompress(data)
    except (FileNotFoundError, zstandard.ZstdError) as exc:
        raise ValueError(f"stored resource content cannot be read (dictionary {dict_id}): {exc}") from exc
