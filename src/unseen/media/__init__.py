"""Format handlers: what a file is, how to decode it, how to rebuild it clean."""
