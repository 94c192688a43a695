"""FHIR R4 layer: model, search, storage, operations, router, API."""
