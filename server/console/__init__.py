"""The web console (server-rendered pages, Chinese) and the public publication pages.

``views`` holds the blueprint; importing the page modules attaches their routes to it.
"""

from server.console import (  # noqa: F401,E402
    common,
    views,  # noqa: F401  (the blueprint first)
    views_analytics,
    views_history,
    views_public,
    views_rounds,
    views_warnings,
)

__all__ = ["views"]
