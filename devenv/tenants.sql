-- Test tenants. Loaded by the superuser into a fresh database (a template the fixtures clone).
--
-- tenant_acme is the one the tests dump. Its neighbours tempt sloppy schema patterns:
-- tenant_acme_eu and tenant_acmex share its prefix ('tenant_acme*', 'tenant_acme_' with a live
-- '_'), and "TENANT_ACME" differs only in case. Every tenant has tables of the same names, so
-- only schema-qualified checks tell them apart. Rows carry their tenant's name in their text.
--
-- Roles are cluster-wide, so they are created only if missing; the fixtures set passwords.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'backup_owner') THEN
        CREATE ROLE backup_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'backup_limited') THEN
        CREATE ROLE backup_limited LOGIN;
    END IF;
END
$$;

CREATE TABLE public.global_settings (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO public.global_settings VALUES ('not_a_tenant', 'must never be in a tenant dump');

-- One procedure builds every tenant the same way; `seq_value` and `scale` make them differ.
CREATE PROCEDURE pg_temp.create_tenant(schema text, seq_value bigint, scale int)
LANGUAGE plpgsql AS $proc$
BEGIN
    EXECUTE format('CREATE SCHEMA %I AUTHORIZATION backup_owner', schema);
    SET LOCAL ROLE backup_owner;
    EXECUTE format($sql$
        CREATE TYPE %1$I.order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');

        CREATE TABLE %1$I.customers (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            email text NOT NULL UNIQUE,
            profile jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL
        );

        CREATE TABLE %1$I.orders (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id bigint NOT NULL REFERENCES %1$I.customers (id),
            status %1$I.order_status NOT NULL DEFAULT 'pending',
            placed_at timestamptz NOT NULL
        );
        CREATE INDEX ON %1$I.orders (customer_id);

        CREATE TABLE %1$I.order_items (
            order_id bigint NOT NULL REFERENCES %1$I.orders (id) ON DELETE CASCADE,
            line int NOT NULL,
            sku text NOT NULL,
            quantity int NOT NULL CHECK (quantity > 0),
            unit_price numeric(12, 2) NOT NULL,
            PRIMARY KEY (order_id, line)
        );

        CREATE TABLE %1$I.secrets (
            id int PRIMARY KEY,
            api_key text NOT NULL
        );

        CREATE SEQUENCE %1$I.invoice_number_seq START 1000;

        CREATE VIEW %1$I.paid_orders AS
            SELECT o.id, c.name, o.placed_at
            FROM %1$I.orders o JOIN %1$I.customers c ON c.id = o.customer_id
            WHERE o.status = 'paid';

        CREATE FUNCTION %1$I.order_total(p_order bigint) RETURNS numeric
        LANGUAGE sql STABLE
        BEGIN ATOMIC
            SELECT coalesce(sum(quantity * unit_price), 0)
            FROM %1$I.order_items WHERE order_id = p_order;
        END;

        CREATE FUNCTION %1$I.next_invoice_number() RETURNS text
        LANGUAGE plpgsql
        SET search_path = %1$I
        AS $body$
        BEGIN
            RETURN 'INV-' || nextval('invoice_number_seq');
        END
        $body$;

        INSERT INTO %1$I.customers (name, email, profile, created_at)
        SELECT %1$L || ' customer ' || i,
               'c' || i || '@' || %1$L || '.example',
               jsonb_build_object('tier', i %% 3, 'tenant', %1$L),
               timestamptz '2024-01-01 00:00+00' + i * interval '1 day'
        FROM generate_series(1, 10 * %2$s) AS i;

        INSERT INTO %1$I.orders (customer_id, status, placed_at)
        SELECT 1 + (i %% (10 * %2$s)),
               (ARRAY['pending', 'paid', 'shipped', 'cancelled'])[1 + i %% 4]::%1$I.order_status,
               timestamptz '2024-02-01 00:00+00' + i * interval '1 hour'
        FROM generate_series(1, 40 * %2$s) AS i;

        INSERT INTO %1$I.order_items (order_id, line, sku, quantity, unit_price)
        SELECT o, l, %1$L || '-sku-' || (o * 7 + l) %% 50, 1 + l, 9.99 * l
        FROM generate_series(1, 40 * %2$s) AS o, generate_series(1, 3) AS l;

        INSERT INTO %1$I.secrets VALUES (1, %1$L || '-api-key');

        SELECT setval(%3$L, %4$s);
    $sql$, schema, scale, quote_ident(schema) || '.invoice_number_seq', seq_value);
    RESET ROLE;
END
$proc$;

CALL pg_temp.create_tenant('tenant_acme', 1042, 3);
CALL pg_temp.create_tenant('tenant_acme_eu', 2042, 2);
CALL pg_temp.create_tenant('tenant_acmex', 3042, 1);
CALL pg_temp.create_tenant('TENANT_ACME', 4042, 1);
CALL pg_temp.create_tenant('tenant_globex', 5042, 2);

-- backup_limited may read everything in tenant_acme except its secrets.
GRANT USAGE ON SCHEMA tenant_acme TO backup_limited;
GRANT SELECT ON ALL TABLES IN SCHEMA tenant_acme TO backup_limited;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA tenant_acme TO backup_limited;
REVOKE SELECT ON tenant_acme.secrets FROM backup_limited;
