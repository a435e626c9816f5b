"""The stream's and the landing inbox's dead-letter queues, behind `cartflow.pipeline.dlq`'s interface.

* `stream`: records the ingest API rejected; replay validates them again and appends the
  valid ones to the event log under their content-derived event id, once.
* `files`: files the landing inbox rejected; replay moves them back into the inbox.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from cartflow.config import Project
from cartflow.pipeline.dlq import DlqError, DlqItem, ReplayLog, ReplayResult, with_status
from cartflow.runtime.state import utcnow


# -- stream -------------------------------------------------------------------------------
class StreamDlq:
    name = "stream"
    description = "records the ingest API or the stream consumers rejected (the stream's dead-letter log)"

    def _open(self, project: Project) -> Any:
        from cartflow.stream.deadletter import dead_letter_path, open_dead_letters

        return open_dead_letters(project) if dead_letter_path(project).exists() else None

    def counts(self, project: Project) -> dict[str, int]:
        letters = self._open(project)
        if letters is None:
            return {}
        try:
            return letters.counts()
        finally:
            letters.close()

    def _item(self, e: Any) -> DlqItem:
        message = "; ".join(str(x.get("message", "")) for x in e.errors)
        return DlqItem(self.name, e.id, e.reason, e.origin, e.received_at, f"{message} | {e.record[:120]}",
                       detail={"errors": e.errors, "record": e.record, "request_id": e.request_id,
                               "origin": e.origin})

    def _entries(self, project: Project, limit: int, reason: str | None) -> list[Any]:
        letters = self._open(project)
        if letters is None:
            return []
        try:
            return letters.list(limit=limit, reason=reason)
        finally:
            letters.close()

    def list(self, project: Project, *, limit: int = 50, reason: str | None = None) -> list[DlqItem]:
        return with_status(project, self.name, [self._item(e) for e in self._entries(project, limit, reason)])

    def show(self, project: Project, item_id: str) -> DlqItem | None:
        matches = [e for e in self._entries(project, 1_000_000, None) if e.id.startswith(item_id)]
        return with_status(project, self.name, [self._item(matches[0])])[0] if len(matches) == 1 else None

    def replay(self, project: Project, ids: builtins.list[str] | None, *, reason: str | None = None,
               dry_run: bool = False) -> ReplayResult:
        """Replay each pending item once, by where it was rejected.

        `api`: validated again; the valid ones are appended to the event log (the consumers
        take them from there). `serving-sink`: the event is in the log already (the raw sink
        landed it), only the serving store missed it: it is read again and upserted by line
        id. Anything still rejected stays in the queue as `rejected_again`.
        """
        entries = self._entries(project, 1_000_000, reason)
        if ids:
            entries = [e for e in entries if any(e.id.startswith(i) for i in ids)]
        result = ReplayResult(self.name, selected=len(entries))
        log_ = ReplayLog(project)
        try:
            done = {k for k, v in log_.get(self.name, [e.id for e in entries]).items() if v["outcome"] == "replayed"}
            todo = [e for e in entries if e.id not in done]
            result.skipped = len(entries) - len(todo)
            other = [e for e in todo if e.origin not in ("api", "serving-sink")]
            if other:
                result.messages.append(f"{len(other)} record(s) from {sorted({e.origin for e in other})} have no "
                                       "replay here: fix their consumer and reset its offsets")
            events, outcomes = self._from_api(project, [e for e in todo if e.origin == "api"])
            lines, line_outcomes = self._from_sink(project, [e for e in todo if e.origin == "serving-sink"])
            outcomes.update(line_outcomes)
            result.replayed = sum(1 for o in outcomes.values() if o == "replayed")
            result.failed = len(outcomes) - result.replayed
            if dry_run or not outcomes:
                return result
            self._write(project, events, lines)  # durable before anything is recorded as replayed
            log_.record(self.name, outcomes, note=f"{len(events)} event(s) appended, {len(lines)} line(s) upserted")
            if events:
                result.messages.append(f"{len(events)} record(s) appended to the event log; the consumers take "
                                       "them from there (`cartflow consume` / `cartflow serve`)")
            if lines:
                result.messages.append(f"{len(lines)} line(s) upserted into the serving store")
        finally:
            log_.close()
        return result

    def _from_api(self, project: Project, entries: builtins.list[Any]) -> tuple[builtins.list[Any], dict[str, str]]:
        from cartflow.stream.records import BodyError, parse_records, split_body

        events, outcomes = [], {}
        window = project.config.contract.window()  # one "now" for the whole replay, as for one request
        for e in entries:
            try:
                parsed = parse_records(split_body(e.record.encode("utf-8")), project.config.stream.invoice_date_format,
                                       window)
            except BodyError:
                outcomes[e.id] = "rejected_again"
                continue
            events += parsed.events
            outcomes[e.id] = "replayed" if parsed.events and not parsed.rejected else "rejected_again"
        return events, outcomes

    def _from_sink(self, project: Project, entries: builtins.list[Any]) -> tuple[builtins.list[Any], dict[str, str]]:
        if not entries:
            return [], {}
        from cartflow.stream.serving_sink import line_from_event

        cfg, lines, outcomes = project.config.stream, [], {}
        for e in entries:
            if e.reason == "event_id_conflict":  # upserting it would replace the line that keeps the id
                outcomes[e.id] = "rejected_again"
                continue
            try:
                lines.append(line_from_event(e.record.encode("utf-8"), currency=cfg.currency, source=cfg.source,
                                             date_format=cfg.invoice_date_format))
                outcomes[e.id] = "replayed"
            except (ValueError, KeyError, TypeError, ArithmeticError):
                outcomes[e.id] = "rejected_again"
        return lines, outcomes

    def _write(self, project: Project, events: builtins.list[Any], lines: builtins.list[Any]) -> None:
        if events:
            from cartflow.stream.log import open_log

            event_log = open_log(project)
            try:
                event_log.append(events)
            finally:
                event_log.close()
        if lines:
            from cartflow.serving.store import open_store

            store = open_store(project)
            try:
                store.upsert(lines)
            finally:
                store.close()


# -- rejected files ------------------------------------------------------------------------
_FILE_REASONS = (("the file is empty", "empty_file"), ("missing column", "missing_column"),
                 ("not valid", "encoding"), ("text (", "encoding"), ("file in a", "wrong_extension"))
_HEAD_BYTES = 2000


class RejectedFilesDlq:
    """Files a `files` source refused, and landed batches bronze could not read.

    Two homes, one queue: the lake inbox moves a refused file to
    `landing/<source>/rejected/` (id `<source>/<file>`); a file in a configured `path`
    stays where it is and a batch bronze refused stays in raw, both recorded in the state
    store as a `rejected` manifest (id `<source>/<file>@<batch id prefix>`).
    """

    name = "files"
    description = "files a files source rejected, with reason"

    def _sources(self, project: Project) -> dict[str, Any]:
        from cartflow.config import FilesSource

        return {n: s for n, s in project.config.sources.items()
                if isinstance(s, FilesSource) and getattr(s, "inbox", False)}

    def _items(self, project: Project) -> list[DlqItem]:
        from cartflow.lake.storage import open_lake

        storage = open_lake(project)
        items = self._inbox_items(project, storage) + self._recorded_items(project)
        return sorted(items, key=lambda i: (i.at or "", i.id), reverse=True)

    def _inbox_items(self, project: Project, storage: Any) -> list[DlqItem]:
        from cartflow.runtime.text import printable

        items = []
        for name in self._sources(project):
            prefix = f"landing/{name}/rejected/"
            for key in storage.list(prefix.rstrip("/")):
                rest = key[len(prefix):]
                if not key.startswith(prefix) or "/" in rest or rest.endswith(".reason.json") or rest.startswith("."):
                    continue
                meta: dict[str, Any] = {}
                if storage.exists(key + ".reason.json"):
                    meta = json.loads(storage.read_bytes(key + ".reason.json"))
                text = printable(meta.get("reason", "rejected (no reason recorded)"))
                code = meta.get("code") or next((c for needle, c in _FILE_REASONS if needle in text), "unreadable")
                items.append(DlqItem(self.name, f"{name}/{rest}", code, name, meta.get("rejected_at"), text,
                                     detail={"key": key, "bytes": storage.size(key), "where": "inbox", **meta}))
        return items

    def _recorded_items(self, project: Project) -> list[DlqItem]:
        """Rejections of configured paths and of bronze, from the state store (the inbox's are above)."""
        from cartflow.lake.raw import rejection_of
        from cartflow.runtime.backends import open_state

        state = open_state(project)
        try:
            rows = state.manifests(status="rejected") + state.manifests(status="retry")
        finally:
            state.close()
        items = []
        for m in rows:
            why = rejection_of(m)
            if why.get("where") == "inbox":
                continue
            items.append(DlqItem(self.name, f"{m.source}/{why.get('file', m.source_file)}@{m.batch_id[:8]}",
                                 str(why.get("code", "unreadable")), m.source, why.get("rejected_at"),
                                 str(why.get("reason", "")),
                                 detail={**why, "batch_id": m.batch_id, "bytes": m.bytes, "raw_key": m.raw_key,
                                         "raw_deleted_at": m.raw_deleted_at, "entity": m.entity,
                                         "state": m.status}))
        return items

    def counts(self, project: Project) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self._items(project):
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return counts

    def list(self, project: Project, *, limit: int = 50, reason: str | None = None) -> list[DlqItem]:
        items = [i for i in self._items(project) if not reason or i.reason.startswith(reason)]
        return with_status(project, self.name, items[:limit])

    def show(self, project: Project, item_id: str) -> DlqItem | None:
        items = self._items(project)
        matches = [i for i in items if i.id == item_id] or [i for i in items if i.id.startswith(item_id)]
        if len(matches) != 1:
            return None
        item = matches[0]
        item.detail["head"] = self._head(project, item)
        return with_status(project, self.name, [item])[0]

    def _head(self, project: Project, item: DlqItem) -> builtins.list[str]:
        """The first lines of the file, escaped (never raw control bytes), or why they cannot be shown."""
        from pathlib import Path

        from cartflow.lake.storage import open_lake
        from cartflow.runtime.text import printable_bytes

        source = project.config.sources.get(item.source)
        encoding = getattr(getattr(source, "csv", None), "encoding", "utf-8")
        where = item.detail.get("where")
        if where == "inbox":
            data = open_lake(project).read_bytes(item.detail["key"])[:_HEAD_BYTES]
        elif where == "bronze":
            storage = open_lake(project)
            if item.detail.get("raw_deleted_at") or not storage.exists(item.detail["raw_key"]):
                return [f"(the raw copy is gone: {item.detail.get('raw_deleted_at') and 'deleted by [lake] raw_retention' or 'not in the lake'})"]
            data = storage.read_bytes(item.detail["raw_key"])[:_HEAD_BYTES]
        else:
            path = Path(item.detail.get("location", ""))
            if item.reason == "symlink" or path.is_symlink():
                return [f"(a symbolic link to {item.detail.get('target', '?')}: not read)"]
            try:
                with path.open("rb") as f:
                    data = f.read(_HEAD_BYTES)
            except OSError as exc:
                return [f"(cannot read {printable_bytes(str(path).encode())}: {exc.strerror or exc})"]
        return [printable_bytes(line, encoding) for line in data.splitlines()[:5]]

    def replay(self, project: Project, ids: builtins.list[str] | None, *, reason: str | None = None,
               dry_run: bool = False) -> ReplayResult:
        """Take the files again after a fix; the next run does it, once.

        Inbox files move back into the inbox. A file in a configured path, or a batch bronze
        refused, is queued for the next run to check (or convert) again. A file rejected as
        `changed_after_landing` is not replayable: landing it would count both versions.
        """
        from cartflow.lake.storage import open_lake
        from cartflow.pipeline.project_lock import ProjectLock

        items = self._items(project)
        chosen = [i for i in items if (not ids or i.id in ids or any(i.id.startswith(x) for x in ids))
                  and (not reason or i.reason.startswith(reason))]
        if ids:
            missing = sorted(x for x in ids if not any(i.id == x or i.id.startswith(x) for i in chosen))
            if missing:
                raise DlqError(f"no rejected file {', '.join(missing)}: `cartflow dlq list files` shows them "
                               "(a file already replayed is back in the inbox, or processed)")
        result = ReplayResult(self.name, selected=len(chosen))
        refused = [i for i in chosen if i.reason == "changed_after_landing"]
        for i in refused:
            result.messages.append(
                f"{i.id}: not replayed: this name was landed before with other content, and landing it again "
                "would count both versions. Put the rows that are new (or corrected) in a file with a new name")
        storage = open_lake(project)
        gone = [i for i in chosen if i.detail.get("where") == "bronze" and i not in refused
                and (i.detail.get("raw_deleted_at") or not storage.exists(i.detail["raw_key"]))]
        for i in gone:
            result.messages.append(f"{i.id}: not replayed: its raw copy is gone "
                                   f"({'deleted by [lake] raw_retention' if i.detail.get('raw_deleted_at') else 'not in the lake'}"
                                   "); drop the file again under a new name")
        todo = [i for i in chosen if i not in refused and i not in gone]
        result.failed = len(refused) + len(gone)
        if dry_run or not todo:
            result.messages.append("nothing to replay" if not todo else
                                   f"would queue {len(todo)} file(s) for the next run")
            return result
        with ProjectLock(project, "dlq-replay-files"):  # never under a run taking the inbox
            for item in todo:
                if item.detail.get("where") == "inbox":
                    self._back_to_inbox(storage, item)
                else:
                    self._requeue(project, item)
        log = ReplayLog(project)
        try:
            log.record(self.name, {i.id: "replayed" for i in todo}, note="queued for the next run")
        finally:
            log.close()
        result.replayed = len(todo)
        result.messages.append(f"{len(todo)} file(s) queued: the next run (or `cartflow watch`) takes them again; "
                               "a file rejected again comes back here with its reason")
        return result

    def _back_to_inbox(self, storage: Any, item: DlqItem) -> None:
        key = item.detail["key"]
        target = f"landing/{item.source}/{item.id.split('/', 1)[1]}"
        if storage.exists(target):
            target = f"landing/{item.source}/replayed-{utcnow().replace(':', '')}-{target.rsplit('/', 1)[1]}"
        storage.move(key, target)
        storage.delete(key + ".reason.json")

    def _requeue(self, project: Project, item: DlqItem) -> None:
        """A bronze rejection is converted again (`landed`); a path file is checked again (`retry`)."""
        from cartflow.runtime.backends import open_state

        state = open_state(project)
        try:
            status = "landed" if item.detail.get("where") == "bronze" else "retry"
            state.update_manifest(item.source, item.detail["entity"], item.detail["batch_id"], status=status)
        finally:
            state.close()
