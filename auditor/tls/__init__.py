"""The live TLS probe of PostgreSQL (STARTTLS) and the TLS policy it is judged against."""
