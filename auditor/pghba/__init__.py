"""pg_hba.conf as data: a parser that accepts what PostgreSQL accepts (`parser`), the rule
model shared with the live `pg_hba_file_rules` view (`rules`, `live`), and the first-match
semantics verdicts depend on (`semantics`)."""
