"""The command line: builds options, calls the library, turns outcomes into
messages and exit codes."""
