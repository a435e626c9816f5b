"""The load generator for benchmarks/streaming.py (a separate process, bounded concurrency).

    python -m benchmarks.stream_client URL CSV EVENTS API_KEY

Request bodies are JSON-encoded before each phase starts, so the client's own CPU (it
shares the 2 cores with the server) goes to sending, not to encoding. A probe polls
`GET /v1/invoices/{no}` every max(5 ms, 5% of the time waited so far): a bounded load
on the server whatever the latency, at most 5% added to the figure.
"""

from __future__ import annotations

import asyncio
import csv
import json
import statistics
import sys
import time

import httpx

from benchmarks.harness import emit

BATCH = 500
POST_CONCURRENCY = 4
GET_CONCURRENCY = 32
GET_SECONDS = 15.0
PACED = (  # (events/s, events per batch, a probe every n batches): steady rates for POST-to-visible
    (2_000, 100, 1),  # below saturation: the pipeline's own latency
    (20_000, 500, 4),  # issue 15's target: p99 <= 1 s at 20,000 events/s
)
PACED_SECONDS = 10.0
PROBE_TIMEOUT = 30.0  # seconds a probe polls before it counts as never seen
JSON = {"content-type": "application/json"}


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def _pct_seen(seen: list[float], sent: int, p: float) -> float | None:
    """Percentile over every probe sent, the unseen ones last; None when it falls on an unseen one."""
    values = sorted(seen) + [float("inf")] * max(sent - len(seen), 0)
    if not values:
        return None
    value = _pct(values, p)
    return None if value == float("inf") else round(value, 1)


def load_lines(path: str, n: int) -> list[dict]:
    out = []
    with open(path, encoding="latin-1", newline="") as f:
        for row in csv.DictReader(f):
            try:
                q, p = int(row["Quantity"]), float(row["UnitPrice"])
            except ValueError:
                continue
            out.append({"InvoiceNo": row["InvoiceNo"], "StockCode": row["StockCode"],
                        "Description": row["Description"] or None, "Quantity": q,
                        "InvoiceDate": row["InvoiceDate"], "UnitPrice": p,
                        "CustomerID": row["CustomerID"] or None, "Country": row["Country"]})
            if len(out) >= n:
                break
    return out


def encode(batch: list[dict]) -> bytes:
    return json.dumps(batch).encode()


async def until_visible(client: httpx.AsyncClient, invoice: str, t0: float,
                        timeout: float = PROBE_TIMEOUT) -> float | None:
    """Milliseconds from t0 until GET /v1/invoices/{invoice} answers 200; None if it never does."""
    while (waited := time.perf_counter() - t0) < timeout:
        try:
            if (await client.get(f"/v1/invoices/{invoice}")).status_code == 200:
                return (time.perf_counter() - t0) * 1000
        except httpx.TransportError:  # a connection dropped under load: poll again on another
            pass
        await asyncio.sleep(max(0.005, waited * 0.05))
    return None


async def paced(client: httpx.AsyncClient, lines: list[dict], start: int, rate: int, size: int, probe_every: int,
                invoice_base: int) -> dict:
    """POST `rate` events/s in batches of `size` for PACED_SECONDS, on a fixed schedule (a late request
    does not delay the next); every `probe_every`-th batch carries a probe invoice."""
    interval = size / rate
    count = int(PACED_SECONDS / interval)
    bodies, invoices = [], []
    for k in range(count):
        chunk = [lines[(start + k * size + j) % len(lines)] for j in range(size)]
        invoice = f"{invoice_base + k}" if k % probe_every == 0 else None
        if invoice:
            chunk = [*chunk[:-1], {**chunk[-1], "InvoiceNo": invoice}]
        bodies.append(encode(chunk))
        invoices.append(invoice)
    visible: list[float] = []
    accepted = errors = 0
    probes: list[asyncio.Task] = []

    async def probe(invoice: str, t0: float) -> None:
        ms = await until_visible(client, invoice, t0)
        if ms is not None:
            visible.append(ms)

    async def post(body: bytes, invoice: str | None) -> None:
        nonlocal accepted, errors
        t0 = time.perf_counter()
        try:
            r = await client.post("/v1/order-lines", content=body, headers=JSON)
        except httpx.TransportError:
            errors += 1
            return
        if r.status_code == 202:
            accepted += r.json().get("accepted", 0)
            if invoice:
                probes.append(asyncio.create_task(probe(invoice, t0)))
        else:
            errors += 1

    posts, p0 = [], time.perf_counter()
    for k, (body, invoice) in enumerate(zip(bodies, invoices, strict=True)):
        await asyncio.sleep(max(0.0, p0 + k * interval - time.perf_counter()))
        posts.append(asyncio.create_task(post(body, invoice)))
    await asyncio.gather(*posts)
    posted = time.perf_counter() - p0
    await asyncio.gather(*probes)
    sent = sum(1 for i in invoices if i)
    return {"events_per_s": rate, "batch": size, "probe_every": probe_every, "seconds": PACED_SECONDS, "events": count * size,
            "accepted": accepted, "failed_requests": errors, "achieved_events_per_s": round(accepted / posted),
            "probes_sent": sent, "probes_seen": len(visible), "probe_timeout_s": PROBE_TIMEOUT,
            # a probe never seen counts as slower than every seen one: None = beyond the timeout
            "p50_ms": _pct_seen(visible, sent, 50), "p99_ms": _pct_seen(visible, sent, 99),
            "max_ms": round(max(visible), 1) if visible and len(visible) == sent else None}


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/v1/health")).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("server never became ready")


_markers = iter(range(990000, 1000000))


async def wait_caught_up(client: httpx.AsyncClient, template: dict, timeout: float = 120) -> None:
    """Until the stream has drained what earlier phases sent, bounded, so a phase measures itself.

    Consumers in the API process report their lag (health's `consumers.*.lag`); wait for 0.
    Then, for every setup (consumers in other processes report nothing here), one marker line:
    the serving sink reads the log in order, so once the marker is visible, so is everything
    before it.
    """
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            consumers = (await client.get("/v1/health")).json().get("consumers", {})
        except httpx.TransportError:
            await asyncio.sleep(0.5)
            continue
        if all(c.get("lag") == 0 for c in consumers.values()):
            break
        await asyncio.sleep(0.5)
    marker = f"{next(_markers)}"
    t0 = time.perf_counter()
    try:
        await client.post("/v1/order-lines", content=encode([{**template, "InvoiceNo": marker}]), headers=JSON)
    except httpx.TransportError:
        return
    await until_visible(client, marker, t0, timeout=max(1.0, deadline - t0))


async def main(url: str, path: str, events: int, key: str) -> None:
    # distinct lines for every phase: the flat-out phase, then each paced one, none re-sent
    needed = events + sum(int(PACED_SECONDS * rate) for rate, _, _ in PACED)
    all_lines = load_lines(path, needed)
    lines = all_lines[:events]
    batches = [lines[i:i + BATCH] for i in range(0, len(lines), BATCH)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60, limits=limits) as client:
        await wait_ready(client)
        accepted = rejected = errors = 0
        visible_ms: list[float] = []
        probes: list[asyncio.Task] = []
        sem = asyncio.Semaphore(POST_CONCURRENCY)
        bodies = []
        for i, batch in enumerate(batches):
            probe_no = f"{700000 + i}" if i % 10 == 0 else None
            if probe_no:
                batch = [*batch[:-1], {**batch[-1], "InvoiceNo": probe_no}]
            bodies.append((encode(batch), probe_no))

        async def probe(invoice: str, t0: float) -> None:
            ms = await until_visible(client, invoice, t0)
            if ms is not None:
                visible_ms.append(ms)

        async def post(body: bytes, probe_no: str | None) -> None:
            nonlocal accepted, rejected, errors
            async with sem:
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/order-lines", content=body, headers=JSON)
                except httpx.TransportError:  # counted, not fatal: the figures say how many failed
                    errors += 1
                    return
            if r.status_code == 202:
                answer = r.json()
                accepted += answer.get("accepted", 0)
                rejected += answer.get("rejected", 0)
                if probe_no:
                    probes.append(asyncio.create_task(probe(probe_no, t0)))
            else:
                errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(post(body, probe_no) for body, probe_no in bodies))
        post_seconds = time.perf_counter() - start
        await asyncio.gather(*probes)

        # paced: steady rates, so the latency is the pipeline's at that rate, not the queue's
        # of the flat-out phase above
        paced_results = []
        offset = events
        for n, (rate, size, probe_every) in enumerate(PACED):
            await wait_caught_up(client, lines[0])
            paced_results.append(await paced(client, all_lines, offset, rate, size, probe_every, 800000 + n * 50000))
            offset += int(PACED_SECONDS * rate)
        await wait_caught_up(client, lines[0])  # the GET phase below measures reads, not a draining backlog

        invoices = sorted({line["InvoiceNo"] for line in lines})[:2000]
        get_ms: list[float] = []
        get_errors = 0
        stop_at = time.perf_counter() + GET_SECONDS

        async def getter(k: int) -> None:
            nonlocal get_errors
            j = k
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    status = (await client.get(f"/v1/invoices/{invoices[j % len(invoices)]}")).status_code
                except httpx.TransportError:
                    status = 0
                get_ms.append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    get_errors += 1
                j += GET_CONCURRENCY

        g0 = time.perf_counter()
        await asyncio.gather(*(getter(k) for k in range(GET_CONCURRENCY)))
        get_seconds = time.perf_counter() - g0

    emit({
        "events_sent": len(lines), "events_accepted": accepted, "events_rejected": rejected,
        "post_errors": errors, "batch_size": BATCH, "post_concurrency": POST_CONCURRENCY,
        "events_per_s": round(accepted / post_seconds),
        "visible_probes": len(visible_ms), "probes_sent": len(probes),
        "visible_p50_ms": round(statistics.median(visible_ms), 1) if visible_ms else None,
        "visible_p99_ms": round(_pct(visible_ms, 99), 1) if visible_ms else None,
        # the first paced phase under the names earlier results used
        "paced_events_per_s": paced_results[0]["events_per_s"], "paced_batch": paced_results[0]["batch"],
        "paced_probes": paced_results[0]["probes_seen"],
        "paced_visible_p50_ms": paced_results[0]["p50_ms"], "paced_visible_p99_ms": paced_results[0]["p99_ms"],
        "paced": paced_results,
        "get_concurrency": GET_CONCURRENCY, "get_requests": len(get_ms), "get_non_200": get_errors,
        "get_rps": round(len(get_ms) / get_seconds),
        "get_p50_ms": round(statistics.median(get_ms), 2), "get_p99_ms": round(_pct(get_ms, 99), 2),
    })


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
