"""Command-line programs: ``backlog-close`` and ``backlog-months``."""
