"""The web UI: server-rendered pages over the same services the management API calls (`moorage.web.app`)."""
