"""The restore's pure SQL parts: the lexer, renaming a schema exactly (look-alikes, quoting,
bodies, search_path, object-naming literals), what still refers to a schema, what a
statement needs, the streaming script filter and the archive's TOC."""

from __future__ import annotations

import pytest

from tenant_backup.runner.errors import RunError
from tenant_backup.runner.script import ScriptFilter, sets_owner, sets_privileges
from tenant_backup.runner.sqllex import IncompleteError, Kind, quote_ident, scan, tokens
from tenant_backup.runner.sqlrename import (
    Need,
    Rename,
    references,
    rename_schema,
    setting_references,
    statement_needs,
)
from tenant_backup.runner.toc import dumped_schemas, parse_toc, table_count

RENAME = Rename("tenant_acme", "tenant_acme2")


def test_lexer_tells_identifiers_from_strings_comments_and_bodies() -> None:
    found = tokens("SELECT \"Tenant_Acme\".x, 'it''s', E'a\\'b', $q$ tenant_acme $q$ -- c\n;")
    kinds = [(t.kind, t.value) for t in found if t.significant]
    assert kinds[:2] == [(Kind.IDENT, "select"), (Kind.QIDENT, "Tenant_Acme")]
    strings = [t for t in found if t.kind in (Kind.STRING, Kind.DOLLAR)]
    assert [t.content for t in strings] == ["it's", "a'b", " tenant_acme "]
    assert [t.kind for t in found if t.text.startswith("--")] == [Kind.COMMENT]


@pytest.mark.parametrize("text", ["'open", "$q$ body", "tenant_ac", "-", '"quoted', "/* x"])
def test_lexer_waits_for_more_when_a_token_may_continue(text: str) -> None:
    with pytest.raises(IncompleteError):
        scan(text, 0, final=False)
    assert scan(text, 0, final=True).text.startswith(text[0])


def test_quote_ident_is_exact() -> None:
    assert quote_ident('we"ird') == '"we""ird"'


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("CREATE SCHEMA tenant_acme;", 'CREATE SCHEMA "tenant_acme2";'),
        ("ALTER SCHEMA tenant_acme OWNER TO x;", 'ALTER SCHEMA "tenant_acme2" OWNER TO x;'),
        ("SELECT * FROM tenant_acme.t;", 'SELECT * FROM "tenant_acme2".t;'),
        ('SELECT * FROM "tenant_acme" . t;', 'SELECT * FROM "tenant_acme2" . t;'),
        ("SELECT * FROM TENANT_ACME.t;", 'SELECT * FROM "tenant_acme2".t;'),
        # look-alikes and non-schema uses stay
        ("SELECT * FROM tenant_acme2.t, tenant_acme_eu.t;", None),
        ('SELECT * FROM "TENANT_ACME".t;', None),
        ("CREATE TABLE x.t (tenant_acme int);", None),
        ("COMMENT ON TABLE x IS 'tenant_acme.t'; -- tenant_acme.t\n", None),
        ("INSERT INTO x VALUES ('tenant_acme.t');", None),
        # object-naming literals are renamed, other literals are not
        (
            "SELECT pg_catalog.setval('tenant_acme.s', 3, true);",
            "SELECT pg_catalog.setval('\"tenant_acme2\".s', 3, true);",
        ),
        (
            "SELECT nextval('tenant_acme.s'::regclass);",
            "SELECT nextval('\"tenant_acme2\".s'::regclass);",
        ),
        (
            "SELECT 'tenant_acme.f(integer)'::pg_catalog.regprocedure;",
            "SELECT '\"tenant_acme2\".f(integer)'::pg_catalog.regprocedure;",
        ),
        ("SELECT 'tenant_acme2.s'::regclass;", None),
        # search_path settings: identifiers, and literals of one raw name each
        ("SET search_path = tenant_acme, public;", 'SET search_path = "tenant_acme2", public;'),
        (
            "SET LOCAL search_path TO 'tenant_acme', 'public';",
            "SET LOCAL search_path TO 'tenant_acme2', 'public';",
        ),
        ("SET search_path TO 'tenant_acme2';", None),
    ],
)
def test_rename_is_identifier_aware(before: str, after: str | None) -> None:
    assert rename_schema(before, RENAME) == (after or before)


def test_routine_bodies_are_renamed_in_sql_and_plpgsql_only() -> None:
    plpgsql = (
        "CREATE FUNCTION tenant_acme.f() RETURNS int LANGUAGE plpgsql\n"
        "    SET search_path TO 'tenant_acme'\n"
        "    AS $_$ BEGIN RETURN (SELECT 1 FROM tenant_acme.t JOIN tenant_acme2.u ON true);"
        " EXECUTE 'SELECT 1 FROM tenant_acme.t'; END $_$;"
    )
    assert rename_schema(plpgsql, RENAME) == (
        'CREATE FUNCTION "tenant_acme2".f() RETURNS int LANGUAGE plpgsql\n'
        "    SET search_path TO 'tenant_acme2'\n"
        '    AS $_$ BEGIN RETURN (SELECT 1 FROM "tenant_acme2".t JOIN tenant_acme2.u ON true);'
        " EXECUTE 'SELECT 1 FROM tenant_acme.t'; END $_$;"
    )
    python = (
        "CREATE FUNCTION tenant_acme.g() RETURNS int LANGUAGE plpython3u AS $$ tenant_acme.x $$;"
    )
    assert rename_schema(python, RENAME).endswith("AS $$ tenant_acme.x $$;")
    old_style = (
        "CREATE FUNCTION tenant_acme.h() RETURNS int LANGUAGE sql AS 'SELECT tenant_acme.k()';"
    )
    assert rename_schema(old_style, RENAME).endswith("""AS 'SELECT "tenant_acme2".k()';""")


def test_references_find_what_renaming_cannot_fix() -> None:
    body = "BEGIN EXECUTE format('SELECT 1 FROM %I.t', 'TENANT_ACME'); END -- tenant_acme.t"
    assert references(body, "tenant_acme") == ["holds its name in a string"]
    assert references("SELECT 1 FROM tenant_acme.t", "tenant_acme") == ["names it"]
    assert references("SELECT 'tenant_acme2', tenant_acme_eu.t -- tenant_acme", "tenant_acme") == []
    assert setting_references('search_path="$user", tenant_acme', "tenant_acme")
    assert not setting_references("search_path=tenant_acme2, public", "tenant_acme")
    assert setting_references("app.schema=tenant_acme", "tenant_acme")


def test_statement_needs_name_roles_and_other_schemas_objects() -> None:
    table = (
        "CREATE TABLE tenant_acme.t (id int REFERENCES public.o(id), nick public.citext"
        " DEFAULT public.gen_random_uuid(), own tenant_acme.kind, n numeric(3, 2));"
    )
    assert statement_needs(tokens(table), "tenant_acme") == {
        Need("relation", "o", "public"),
        Need("type", "citext", "public"),
        Need("function", "gen_random_uuid", "public"),
    }
    view = (
        "CREATE VIEW tenant_acme.v AS SELECT o.id, c.name FROM (tenant_acme.orders o JOIN"
        " tenant_acme.customers c ON ((c.id = o.customer_id))) WHERE (o.s = 'x'::public.mood);"
    )
    assert statement_needs(tokens(view), "tenant_acme") == {Need("type", "mood", "public")}
    grant = 'GRANT SELECT ON TABLE tenant_acme.t TO reader, "Odd" WITH GRANT OPTION;'
    assert statement_needs(tokens(grant), "tenant_acme") == {
        Need("role", "reader"),
        Need("role", "Odd"),
    }
    policy = "CREATE POLICY p ON tenant_acme.t TO app, PUBLIC USING ((x = 1));"
    assert statement_needs(tokens(policy), "tenant_acme") == {Need("role", "app")}
    owner = "ALTER TABLE tenant_acme.t OWNER TO backup_owner;"
    assert statement_needs(tokens(owner), "tenant_acme") == {Need("role", "backup_owner")}
    assert str(Need("type", "citext", "public")) == "type public.citext"
    assert sets_owner(tokens(owner))
    assert not sets_privileges(tokens(owner))
    assert sets_privileges(tokens(grant))
    assert not sets_owner(tokens(grant))


SCRIPT = (
    "--\n-- PostgreSQL database dump\n--\n\\restrict abc\n"
    "SET standard_conforming_strings = on;\n"
    "CREATE SCHEMA tenant_acme;\n"
    "CREATE TABLE tenant_acme.t (id int, note text);\n"
    "ALTER TABLE tenant_acme.t OWNER TO backup_owner;\n"
    "COPY tenant_acme.t (id, note) FROM stdin;\n"
    "1\ttenant_acme.t; COPY x FROM stdin;\n"
    "2\t\\\\.\n"
    "3\tünïcode ';\n"
    "\\.\n"
    "COPY tenant_acme.empty (id) FROM stdin;\n"
    "\\.\n"
    "GRANT SELECT ON TABLE tenant_acme.t TO reader;\n"
    "\\unrestrict abc\n"
)


def _filtered(script: bytes, size: int, drop_owner: bool = False) -> tuple[bytes, int]:
    def handle(found: list) -> list | None:  # type: ignore[type-arg]
        from tenant_backup.runner.sqlrename import rename_tokens

        return None if drop_owner and sets_owner(found) else rename_tokens(found, RENAME)

    script_filter = ScriptFilter(handle)
    out = b"".join(script_filter.feed(script[i : i + size]) for i in range(0, len(script), size))
    return out + script_filter.finish(), script_filter.rows


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
def test_the_script_filter_renames_statements_and_passes_data_untouched(size: int) -> None:
    out, rows = _filtered(SCRIPT.encode(), size)
    expected = (
        SCRIPT.replace("CREATE SCHEMA tenant_acme;", 'CREATE SCHEMA "tenant_acme2";')
        .replace("TABLE tenant_acme.t", 'TABLE "tenant_acme2".t')
        .replace("COPY tenant_acme.", 'COPY "tenant_acme2".')
    )
    assert out.decode() == expected
    assert "1\ttenant_acme.t; COPY x FROM stdin;\n" in out.decode()  # data stays
    assert rows == 3


def test_the_script_filter_drops_what_it_is_told_to() -> None:
    out, _ = _filtered(SCRIPT.encode(), 5, drop_owner=True)
    assert b"OWNER TO" not in out
    assert b"GRANT SELECT" in out


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("COPY tenant_acme.t (id) FROM stdin;\n1\n2\n", "ends inside COPY data"),
        ("\\! rm -rf /\n", "meta-command \\!"),
        ("SELECT 1;\n\\connect other\n", "meta-command \\connect"),
    ],
)
def test_the_script_filter_refuses_truncated_or_unsafe_scripts(script: str, error: str) -> None:
    with pytest.raises(RunError) as raised:
        _filtered(script.encode(), 4)
    assert error in raised.value.message


TOC = """;
; Archive created at 2026-12-03 07:57:04 UTC
;     dbname: tenants_1
;
; Selected TOC Entries:
;
5; 2615 16386 SCHEMA - tenant_acme backup_owner
850; 1247 16388 TYPE tenant_acme order_status backup_owner
230; 1255 16430 FUNCTION tenant_acme order_total(bigint) backup_owner
216; 1259 16400 TABLE tenant_acme customers backup_owner
3380; 0 16400 TABLE DATA tenant_acme customers backup_owner
219; 1259 16420 VIEW tenant_acme paid_orders backup_owner
3230; 2606 16410 CONSTRAINT tenant_acme customers customers_pkey backup_owner
3240; 2606 16415 FK CONSTRAINT tenant_acme orders orders_customer_id_fkey backup_owner
3390; 0 0 ACL - SCHEMA tenant_acme backup_owner
3391; 0 0 SEQUENCE SET tenant_acme invoice_number_seq backup_owner
"""


def test_the_toc_is_read_entry_by_entry() -> None:
    entries = parse_toc(TOC)
    assert len(entries) == 10
    assert dumped_schemas(entries) == ["tenant_acme"]
    assert table_count(entries) == 1
    fk = next(entry for entry in entries if entry.type == "FK CONSTRAINT")
    assert (fk.schema, fk.tag, fk.owner) == (
        "tenant_acme",
        "orders orders_customer_id_fkey",
        "backup_owner",
    )
    acl = next(entry for entry in entries if entry.type == "ACL")
    assert (acl.schema, acl.tag) == (None, "SCHEMA tenant_acme")
    data = next(entry for entry in entries if entry.type == "TABLE DATA")
    assert (data.dump_id, data.tag) == (3380, "customers")
