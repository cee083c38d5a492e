"""Background work run in the server process (or a worker process): one module per job kind."""
