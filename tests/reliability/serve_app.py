"""Run the app on a free port in its own process (the reliability tests kill it with -9).

Usage: ``python serve_app.py`` with the app's settings as JSON in
``SHUANGSUI_REL_CONFIG``. Prints ``PORT <n>`` once listening, then serves with one
thread per request until killed.
"""

from __future__ import annotations

import json
import os
import sys

from werkzeug.serving import make_server

from server import create_app


def main() -> None:
    app = create_app(json.loads(os.environ["SHUANGSUI_REL_CONFIG"]))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
