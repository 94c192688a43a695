"""Clinical use-cases and the pure clinical domain rules they rely on.

Pure modules (no I/O, no database):

- ``cccd_qr``: parse the QR text printed on the chip citizen-identity card (CCCD).
- ``bhyt_card``: parse and check a health-insurance (BHYT) card number, dates and benefit level.
- ``news2``: the Royal College of Physicians NEWS2 early-warning score.
- ``frequency``: medication frequency text (Vietnamese and Latin) -> schedule <-> FHIR R4 Dosage/Timing
  (model in ``frequency_model``, FHIR half in ``frequency_fhir``).
- ``dose_times``: administration datetimes of a FHIR Timing in a window (UTC+7, across midnight).
- ``vn_provinces``: the province codes shared by CCCD and BHYT numbers.
"""
