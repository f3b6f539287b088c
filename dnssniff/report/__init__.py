"""Formatters: they turn core results into text and never print (the CLI writes)."""
