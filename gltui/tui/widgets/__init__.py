"""One module per widget (toolong's layout)."""
