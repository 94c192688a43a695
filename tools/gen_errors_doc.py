"""Write docs/errors.md from benhan.kernel.errors.ErrorCode (a unit test checks it is up to date)."""

from __future__ import annotations

from pathlib import Path

from benhan.kernel.errors import ErrorCode

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"

HEADER = """# Error codes

Every error benhan returns is a FHIR `OperationOutcome`. Its first issue carries the stable code in
`issue[0].details.coding[0]` (system `https://benhan.vn/fhir/CodeSystem/error`), a human-readable message in
`diagnostics`, and, for validation errors, one issue per problem with its FHIRPath `expression`.
No stack trace ever reaches a client: unexpected failures are logged server-side and answered with `BH-5000`.

| code | HTTP | FHIR issue type | meaning |
|---|---|---|---|
"""


def render() -> str:
    rows = [f"| `{e.code}` | {e.status} | `{e.issue_type}` | {e.meaning} |" for e in ErrorCode]
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
