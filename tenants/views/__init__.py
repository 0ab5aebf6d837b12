"""Server-rendered tenant pages (one module per area)."""
