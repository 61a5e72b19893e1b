-- The demo database, built like the reference architecture (AgentAuri backend) with a few
-- planted weaknesses that a scan must find. Values are synthetic; keys are demo keys.

-- The scanner's least-privilege role (see `auditor grants`).
CREATE ROLE auditor LOGIN PASSWORD 'demo-auditor-password' IN ROLE pg_monitor;
GRANT SELECT ON pg_catalog.pg_hba_file_rules TO auditor;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO auditor;
GRANT SELECT ON pg_catalog.pg_file_settings TO auditor;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO auditor;

CREATE ROLE app LOGIN PASSWORD 'demo-app-password';
CREATE EXTENSION pgcrypto;

-- Layer 2: column encryption through wrappers that take the key as a parameter.
CREATE FUNCTION encrypt_text(plaintext text, key text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT encode(pgp_sym_encrypt(plaintext, key, 'cipher-algo=aes256'), 'base64') $$;

CREATE FUNCTION decrypt_text(ciphertext text, key text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT pgp_sym_decrypt(decode(ciphertext, 'base64'), key) $$;

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    phone text,
    wallet_address text,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO users (email, phone, wallet_address)
SELECT encrypt_text('user' || g || '@example.com', 'demo-key-v1'),
       -- Planted weakness: phone numbers encrypted with pgcrypto's default cipher, AES-128.
       encode(pgp_sym_encrypt('+1 555 01' || lpad(g::text, 2, '0'), 'demo-key-v1'), 'base64'),
       encrypt_text('0x' || md5(g::text) || '00c0ffee', 'demo-key-v2')
FROM generate_series(1, 80) g;

-- Planted weakness: a convenience function with the key written into its body.
CREATE FUNCTION user_email(uid bigint) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT decrypt_text(email, 'demo-key-v1') FROM users WHERE id = uid $$;

-- Planted weakness: an export table nobody declared, holding plaintext personal data.
CREATE TABLE customer_export (
    id serial PRIMARY KEY,
    contact text,
    card text,
    sku text,
    price numeric(10, 2)
);
INSERT INTO customer_export (contact, card, sku, price)
SELECT 'customer' || g || '@example.org',
       CASE WHEN g % 2 = 0 THEN '4111111111111111' ELSE '5500000000000004' END,
       'SKU-' || lpad(g::text, 6, '0'),
       (g * 3.5)::numeric(10, 2)
FROM generate_series(1, 60) g;

-- Audit trail (a plain table here; the design uses a TimescaleDB hypertable).
CREATE TABLE encrypted_data_access_log (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    column_name text NOT NULL,
    row_id text NOT NULL,
    accessed_by text NOT NULL,
    access_type text NOT NULL CHECK (access_type IN ('read', 'write', 'delete')),
    accessed_at timestamptz NOT NULL DEFAULT now(),
    client_ip inet
);
INSERT INTO encrypted_data_access_log (table_name, column_name, row_id, accessed_by, access_type, client_ip)
SELECT 'users', 'email', g::text, 'admin@example.com', 'read', '10.0.0.7'
FROM generate_series(1, 20) g;
-- Planted weakness: the application role may rewrite its own audit trail.
GRANT SELECT, INSERT, DELETE ON encrypted_data_access_log TO app;
GRANT SELECT, INSERT, UPDATE ON users TO app;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor;
