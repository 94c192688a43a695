"""benhan: FHIR-native EMR for a Vietnamese province."""

__version__ = "0.1.0"
