"""The stock metrics (DESIGN section 6), each module a default plugin."""
