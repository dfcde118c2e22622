"""The ADBC helper process ends when its parent is killed (issue 27, finding 5): a
``simulate`` killed with -9 must not leave helpers behind holding the database open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import sqlite3, sys
from server import adbc_process
db = sys.argv[1]
conn = sqlite3.connect(db); conn.execute("create table t(x)"); conn.execute("insert into t values (1)"); conn.commit(); conn.close()
assert adbc_process.read(db, "select x from t").num_rows == 1
print(*adbc_process._pool._processes, flush=True)
import time
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie not yet reaped by init counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_helper_dies_with_its_killed_parent(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "t.db")], stdout=subprocess.PIPE,
                              env=env, text=True)
    helpers: list[int] = []
    try:
        helpers = [int(p) for p in parent.stdout.readline().split()]
        assert helpers and all(_alive(p) for p in helpers)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        for _ in range(200):  # up to 20 s: the helper notices within its poll period
            if not any(_alive(p) for p in helpers):
                break
            time.sleep(0.1)
        assert not any(_alive(p) for p in helpers), "helper outlived its killed parent"
    finally:
        parent.kill()
        for pid in helpers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
