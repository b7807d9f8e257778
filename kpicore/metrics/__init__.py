"""The stock metrics, one module per entity they read, each a default plugin."""
