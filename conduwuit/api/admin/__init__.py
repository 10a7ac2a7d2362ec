"""Admin APIs over HTTP (Synapse-compatible where clients and tools expect it)."""
