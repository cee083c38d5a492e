"""What an operator sees of a running registry: structured logs, the access log, request ids and metrics.

Each concept has its own module: `request_context` (the id of the request a line belongs to),
`log_format` and `logging_setup` (how lines are written), `access_log` (one line per request),
`http_metrics` (request counters and histograms), `registry_metrics` (facts read from the metadata
store at scrape time), `metrics_endpoint` (how `/metrics` gathers them across worker processes) and
`middleware` (the one ASGI wrapper that feeds the access log and the HTTP metrics).
"""

MULTIPROCESS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""Where each worker writes its in-process metrics; set by `moorage serve` before any worker imports
prometheus_client (which picks its value store at import), so this package's entry imports nothing."""
