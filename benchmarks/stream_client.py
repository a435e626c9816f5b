"""The load generator for benchmarks/streaming.py (a separate process, bounded concurrency).

    python -m benchmarks.stream_client URL CSV EVENTS API_KEY
"""

from __future__ import annotations

import asyncio
import csv
import statistics
import sys
import time

import httpx

from benchmarks.harness import emit

BATCH = 500
POST_CONCURRENCY = 4
GET_CONCURRENCY = 32
GET_SECONDS = 15.0
PACED_RATE = 2_000  # events/s in the paced latency phase
PACED_BATCH = 100
PACED_SECONDS = 10.0


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


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


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/v1/health")).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("server never became ready")


async def wait_caught_up(client: httpx.AsyncClient, timeout: float = 120) -> None:
    """Until every stream consumer reports no lag (health's `consumers.*.lag`), bounded."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        consumers = (await client.get("/v1/health")).json().get("consumers", {})
        if not consumers:  # consumers run in other processes (`cartflow consume`): no lag to read here
            await asyncio.sleep(5)
            return
        if all(c.get("lag") == 0 for c in consumers.values()):
            return
        await asyncio.sleep(0.5)


async def main(url: str, path: str, events: int, key: str) -> None:
    lines = load_lines(path, events)
    batches = [lines[i:i + BATCH] for i in range(0, len(lines), BATCH)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60, limits=limits) as client:
        await wait_ready(client)
        accepted = rejected = errors = 0
        visible_ms: list[float] = []
        probes: list[asyncio.Task] = []
        sem = asyncio.Semaphore(POST_CONCURRENCY)

        async def probe(invoice: str, t0: float) -> None:
            deadline = t0 + 30
            while time.perf_counter() < deadline:
                r = await client.get(f"/v1/invoices/{invoice}")
                if r.status_code == 200:
                    visible_ms.append((time.perf_counter() - t0) * 1000)
                    return
                await asyncio.sleep(0.005)

        async def post(i: int, batch: list[dict]) -> None:
            nonlocal accepted, rejected, errors
            probe_no = None
            if i % 10 == 0:
                probe_no = f"{700000 + i}"
                batch = [*batch[:-1], {**batch[-1], "InvoiceNo": probe_no}]
            async with sem:
                t0 = time.perf_counter()
                r = await client.post("/v1/order-lines", json=batch)
            if r.status_code == 202:
                body = r.json()
                accepted += body.get("accepted", 0)
                rejected += body.get("rejected", 0)
                if probe_no:
                    probes.append(asyncio.create_task(probe(probe_no, t0)))
            else:
                errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(post(i, b) for i, b in enumerate(batches)))
        post_seconds = time.perf_counter() - start
        await asyncio.gather(*probes)

        # paced: a steady PACED_RATE events/s below saturation, every batch a probe, so the
        # latency is the pipeline's, not the queue's of the flat-out phase above
        paced_ms: list[float] = []
        paced_probes: list[asyncio.Task] = []

        async def paced_probe(invoice: str, t0: float) -> None:
            while time.perf_counter() < t0 + 30:
                if (await client.get(f"/v1/invoices/{invoice}")).status_code == 200:
                    paced_ms.append((time.perf_counter() - t0) * 1000)
                    return
                await asyncio.sleep(0.005)

        async def paced_post(k: int, batch: list[dict]) -> None:
            invoice = f"{800000 + k}"
            batch = [*batch[:-1], {**batch[-1], "InvoiceNo": invoice}]
            t0 = time.perf_counter()
            r = await client.post("/v1/order-lines", json=batch)
            if r.status_code == 202:
                paced_probes.append(asyncio.create_task(paced_probe(invoice, t0)))

        await wait_caught_up(client)
        interval = PACED_BATCH / PACED_RATE
        posts, p0 = [], time.perf_counter()
        for k in range(int(PACED_SECONDS / interval)):
            await asyncio.sleep(max(0.0, p0 + k * interval - time.perf_counter()))
            chunk = lines[(k * PACED_BATCH) % len(lines):][:PACED_BATCH]
            posts.append(asyncio.create_task(paced_post(k, chunk)))
        await asyncio.gather(*posts)
        await asyncio.gather(*paced_probes)

        invoices = sorted({l["InvoiceNo"] for l in lines})[:2000]
        get_ms: list[float] = []
        get_errors = 0
        stop_at = time.perf_counter() + GET_SECONDS

        async def getter(k: int) -> None:
            nonlocal get_errors
            j = k
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                r = await client.get(f"/v1/invoices/{invoices[j % len(invoices)]}")
                get_ms.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
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
        "paced_events_per_s": PACED_RATE, "paced_batch": PACED_BATCH, "paced_probes": len(paced_ms),
        "paced_visible_p50_ms": round(statistics.median(paced_ms), 1) if paced_ms else None,
        "paced_visible_p99_ms": round(_pct(paced_ms, 99), 1) if paced_ms else None,
        "get_concurrency": GET_CONCURRENCY, "get_requests": len(get_ms), "get_non_200": get_errors,
        "get_rps": round(len(get_ms) / get_seconds),
        "get_p50_ms": round(statistics.median(get_ms), 2), "get_p99_ms": round(_pct(get_ms, 99), 2),
    })


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
