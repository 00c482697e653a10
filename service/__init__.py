"""The edges: settings, HTTP API, chat page and command line."""
