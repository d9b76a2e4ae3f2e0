"""How much a request may send, checked before its body is read.

FastAPI's `max_body_size` (Starlette's request-body limit) refuses a request whose
Content-Length is over the route's limit before reading a byte of it, and stops a chunked body
as soon as it passes the limit: either way 413, and nothing of it is parsed or stored.

- Every route: `JSON_BODY_BYTES`, the app's own limit (JSON bodies and plain forms).
- Routes that take a file: `UPLOAD_BODY_BYTES` on the route, the transport's ceiling; the
  `upload_max_bytes` setting, at most that ceiling, is the per-file rule `core.files` applies
  with its own message.
- Routes with a tighter contract say so on the route (a 120 centre's incident:
  `INCIDENT_BODY_BYTES`).
"""

from __future__ import annotations

from gongchuang.core.errors import PayloadTooLarge
from gongchuang.core.i18n import N_

KIB = 1024
MIB = 1024 * KIB

# A points batch of hundreds of records, an offline progress queue, a plan pasted from Excel.
JSON_BODY_BYTES = 1 * MIB
# One file of up to 20 MiB and the multipart envelope and form fields around it.
UPLOAD_FILE_CEILING = 20 * MIB
UPLOAD_BODY_BYTES = UPLOAD_FILE_CEILING + 256 * KIB
# An EIDO incident: a location, a code, an address and a few notes.
INCIDENT_BODY_BYTES = 64 * KIB


def too_large(limit: int | None) -> PayloadTooLarge:
    """The refusal, in the reader's language, naming the route's limit."""
    return PayloadTooLarge(
        N_("The request is larger than this address accepts (%(kb)s KB)"),
        kb=(limit or JSON_BODY_BYTES) // KIB,
    )
