"""Token ``:text`` values in ``sp_token.text``, mostly on the coding rows themselves: far fewer index rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

FHIR R4 search.html#token ``:text`` matches the display of a coding or the text of a CodeableConcept. Until
now each was a row of its own in ``sp_string`` under the ``:text`` pseudo-parameter (``registry.pseudo_id``):
at 5.03 M resources 8.4 M of sp_string's 12 M rows (Observation.code:text 4.5 M, Observation.category:text
3.5 M, ...), ~85 bytes each with their two index entries, mostly a CodeableConcept.text repeating its
coding's display. Row overhead dominated, so (``fhir/search/extract.py`` ``_place_texts``):

- a coding's display rides on the coding's own ``sp_token`` row (``text``: folded and cut at 200
  characters exactly as the string rows were);
- a text equal to one that the resource's rows of the parameter already carry is not stored again;
- another text fills a row of the parameter that carries none, and only a text left over gets a row of its
  own: a text-only ``sp_token`` row under the pseudo-parameter (system 0, code ``''``; no code search reads
  that parameter id).

``:text`` reads one table (``storage/pg/search_sql.py`` ``_token_text``). Reading the old string rows as well
(a UNION) made ``Observation?code:text=heart``'s first page 100-300 ms instead of 3 ms at 500 k resources:
the planner can walk one table's ``rid`` index in order and stop after a page, not a union of two.

Upgrading moves the old ``:text`` string rows as they are into text-only token rows (so ``:text`` keeps
answering), which is larger than before until ``benhan reindex`` rebuilds the compact layout and gives back
the space: 20 s for 1.0 M rows at 500 k resources (so minutes, in one transaction, at 5 M); measured there
(resource and index tables per resource) 1,697 bytes before, 1,947 after the upgrade, 1,582 after the
reindex (2 min), the same as a fresh load, with the same ``:text`` results at each step. The rows to move
are those of the ``:text`` pseudo-parameters of the registry's indexed token parameters at this revision
(``text_params``; tested against ``extract``).

The partial index is small: displays repeat, so B-tree deduplication stores each (param, text) key once with
a list of row ids. The (param, text) statistics are 0008's for (param, code): without them the planner
estimated 5,929 rows for ``Observation.code`` texts starting with "heart" where there are 37,429. Their list
holds 1,000 pairs, as 0008's for sp_string, which the ``:text`` rows were estimated by until now: with the
default 100, ``Condition?code:text=tang`` (146 distinct texts in all) was estimated at 11 rows for 2,009.
"""

from benhan.migrate import run_ddl

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def text_params() -> list[int]:
    """The ``:text`` pseudo-parameter ids of every indexed token parameter (meta tags have none)."""
    from benhan.fhir.model.resource_types import RESOURCE_TYPES
    from benhan.fhir.search import registry

    return sorted({registry.pseudo_id(p, "text") for t in RESOURCE_TYPES for p in registry.params_of(t).values()
                   if p.type == "token" and p.indexed and not p.code.startswith("_")})


def upgrade() -> None:
    ids = ", ".join(str(i) for i in text_params())
    run_ddl(
        f"""
        ALTER TABLE sp_token ADD COLUMN IF NOT EXISTS text text COLLATE "C";  -- folded, like sp_string.value
        CREATE INDEX IF NOT EXISTS sp_token_text ON sp_token (param, text) WHERE text IS NOT NULL;
        CREATE STATISTICS IF NOT EXISTS sp_token_param_text (mcv) ON param, text FROM sp_token;
        ALTER STATISTICS sp_token_param_text SET STATISTICS 1000;
        CREATE TEMP TABLE text_param (param integer PRIMARY KEY) ON COMMIT DROP;
        INSERT INTO text_param VALUES ({ids.replace(", ", "), (")});
        INSERT INTO sp_token (rid, system, param, code, text)
            SELECT s.rid, 0, s.param, '', s.value FROM sp_string s JOIN text_param USING (param);
        DELETE FROM sp_string s USING text_param t WHERE s.param = t.param;
        """
    )


def downgrade() -> None:
    # Token rows' texts other than the text-only ones are lost to :text: run `benhan reindex` on the older code.
    ids = ", ".join(str(i) for i in text_params())
    run_ddl(
        f"""
        INSERT INTO sp_string (rid, param, value)
            SELECT rid, param, text FROM sp_token WHERE param IN ({ids}) AND code = '';
        DELETE FROM sp_token WHERE param IN ({ids}) AND code = '';
        DROP STATISTICS IF EXISTS sp_token_param_text;
        DROP INDEX IF EXISTS sp_token_text;
        ALTER TABLE sp_token DROP COLUMN IF EXISTS text;
        """
    )
