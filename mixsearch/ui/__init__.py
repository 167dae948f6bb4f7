"""Terminal and machine output of the CLI: consoles, JSON documents, tables, progress, errors."""
