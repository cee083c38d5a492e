"""One module per page (or small family of pages) of the web UI."""
