"""Image governance: repository settings and templates, immutable tags, tag history, audit, usage."""
