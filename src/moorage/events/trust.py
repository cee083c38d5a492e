"""Which certificates HTTPS webhook receivers may present: the system's CAs, plus a site's own.

Its own module, free of the metrics: `moorage serve` checks the file before it starts the workers,
and must not import prometheus_client before it has set up the workers' shared metrics directory.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def receivers_trust(ca_file: Path | None) -> ssl.SSLContext | bool:
    """How receivers' certificates are checked: the system's CAs, plus those of `ca_file` if given."""
    if ca_file is None:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"webhook_ca_file {ca_file}: not a readable PEM file of certificates ({error})") from None
    return context
