"""The PostgreSQL ledger backend (psycopg 3): one database shared by every `costline serve` replica."""
