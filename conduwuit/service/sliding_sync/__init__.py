"""Simplified Sliding Sync (MSC4186): room lists, room subscriptions and extensions
over per-connection state, for matrix-rust-sdk clients such as Element X."""
