"""Kernel: errors, settings-independent primitives, request context, database pool. Imports nothing from benhan."""
