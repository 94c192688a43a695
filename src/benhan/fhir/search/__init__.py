"""FHIR R4 search: parameter registry (from the official definitions), index value extraction, query parsing
and searchset Bundle assembly. Pure code: the SQL lives in :mod:`benhan.fhir.storage.pg.search`."""
