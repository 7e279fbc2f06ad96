"""Storage layer: SQLite by default, PostgreSQL when configured; all SQL lives here."""
