"""The management REST API under /api/v1 (FastAPI, described by OpenAPI at /api/v1/openapi.json)."""
