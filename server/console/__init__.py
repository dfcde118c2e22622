"""The web console (server-rendered pages, Chinese) and the public publication pages.

``views`` holds the blueprint; importing the page modules attaches their routes to it.
"""

from server.console import views  # noqa: F401  (the blueprint first)
from server.console import common, views_analytics  # noqa: F401,E402

__all__ = ["views"]
