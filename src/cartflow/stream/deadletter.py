"""The dead-letter log: every record the stream could not accept, with the reason.

It lives in the state directory (`dead-letter.db`) so rejected records survive restarts
and `cartflow dlq` can list them later. An entry's id is a hash of the record and its
reason, so a client retrying the same request does not double the dead letter.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartflow.config import Project
from cartflow.runtime.sqlite import connect
from cartflow.runtime.state import utcnow

SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    origin TEXT NOT NULL,
    reason TEXT NOT NULL,
    errors TEXT NOT NULL,
    record TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at);
"""


@dataclass
class DeadLetter:
    id: str
    received_at: str
    origin: str
    reason: str
    errors: list[dict[str, Any]]
    record: str
    request_id: str | None


class DeadLetterLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = connect(path)
        self._db.executescript(SCHEMA)

    def add(self, entries: list[tuple[str, list[dict[str, Any]], str]], *, origin: str,
            request_id: str | None = None) -> int:
        """Store (reason, errors, record text) entries durably; returns how many were new."""
        if not entries:
            return 0
        now = utcnow()
        rows = [(_entry_id(reason, record), now, origin, reason, json.dumps(errors, default=str), record, request_id)
                for reason, errors, record in entries]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO dead_letters VALUES (?,?,?,?,?,?,?)", rows)
            added = self._db.total_changes - before
            self._db.execute("COMMIT")
        return added

    def list(self, limit: int = 50, reason: str | None = None) -> list[DeadLetter]:
        sql = "SELECT * FROM dead_letters"
        params: list[str | int] = []
        if reason:
            sql += " WHERE reason LIKE ?"
            params.append(f"{reason}%")
        sql += " ORDER BY received_at DESC, id LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [DeadLetter(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute(
                "SELECT reason, count(*) FROM dead_letters GROUP BY reason ORDER BY 2 DESC").fetchall())

    def close(self) -> None:
        self._db.close()


def _entry_id(reason: str, record: str) -> str:
    return hashlib.sha256(f"{reason}\n{record}".encode()).hexdigest()[:32]


def dead_letter_path(project: Project) -> Path:
    return project.state_path.parent / "dead-letter.db"


def open_dead_letters(project: Project) -> DeadLetterLog:
    return DeadLetterLog(dead_letter_path(project))
