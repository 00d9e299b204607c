"""movierec: the shared code of the movie recommendation service (the Lambda layer ``common``).

Both functions (``functions/ingest`` and ``functions/recommend``) and the local tooling under ``infra/``
import this package; nothing is copied between them.
"""

__version__ = "0.1.0"
