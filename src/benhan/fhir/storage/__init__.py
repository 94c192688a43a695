"""FHIR resource storage: the repository protocol (``protocol``) and its PostgreSQL implementation (``pg``).

Domain packages depend on :mod:`benhan.fhir.storage.protocol` only."""
