"""Synthetic-data generator pieces (issue 5): Vietnamese names and identifiers, deterministic per seed.

Pure code: every generator takes a ``random.Random`` and does no I/O.
"""
