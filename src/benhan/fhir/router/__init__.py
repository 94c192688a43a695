"""Framework-free FHIR REST router: (FhirRequest, Repository) -> FhirResponse.

Only :mod:`benhan.fhir.api` adapts it to ASGI.  Every error becomes an OperationOutcome in one place
(:func:`benhan.fhir.router.dispatch.handle`)."""
