/* cartflow offline report: the dashboard's data source when there is no server.
 *
 * The file embeds (gzip + base64) the unfiltered answers exactly as /dashboard serves
 * them, and month-grain cells (see report_cells.py). A filter of whole months and any
 * set of countries is answered here with the same rules as the server's SQL.
 * Money in the cells is in integer thousandths, so sums stay exact.
 */
(function () {
  "use strict";
  const CF = (window.CF = window.CF || {});
  const DAY_MS = 86400000;
  const SEGMENTS = ["Champions", "Loyal", "Potential loyalist", "New", "Need attention", "At risk", "Hibernating", "Lost"];

  async function inflate() {
    const b64 = document.getElementById("cf-data").textContent.trim();
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (typeof DecompressionStream === "undefined") {
      throw new Error("This browser cannot open the report's data (no DecompressionStream): use a current browser.");
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  /* ---------- helpers ---------- */
  const money = (milli) => milli / 1000;
  const round = (v, d) => { const f = Math.pow(10, d); return Math.round(v * f) / f; };
  /** DECIMAL / count, half up to 3 decimals: the marts' @money_div, on thousandths. */
  function moneyDiv(milli, n) {
    if (!n) return null;
    const q = Math.floor((2 * Math.abs(milli) + n) / (2 * n));
    return (milli < 0 ? -q : q) / 1000;
  }
  const isoDay = (iso) => Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10));
  const toIso = (ms) => new Date(ms).toISOString().slice(0, 10);
  function weekStart(iso) {
    const t = isoDay(iso);
    const dow = (new Date(t).getUTCDay() + 6) % 7; // Monday = 0
    return toIso(t - dow * DAY_MS);
  }
  const monthStart = (iso) => iso.slice(0, 7) + "-01";
  function quarterStart(iso) {
    const m = +iso.slice(5, 7);
    return `${iso.slice(0, 4)}-${String(Math.floor((m - 1) / 3) * 3 + 1).padStart(2, "0")}-01`;
  }
  function group(map, key, init) {
    let v = map.get(key);
    if (v === undefined) { v = init(); map.set(key, v); }
    return v;
  }
  const byKey = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  /** NTILE(5) over rows already sorted: the first n % 5 buckets get one extra row. */
  function ntile5(sorted, set) {
    const n = sorted.length, base = Math.floor(n / 5), extra = n % 5;
    let i = 0;
    for (let b = 1; b <= 5; b++) {
      const size = base + (b <= extra ? 1 : 0);
      for (let j = 0; j < size; j++) set(sorted[i++], b);
    }
  }

  /* ---------- the aggregation ---------- */
  function aggregate(cube, f) {
    const C = cube.cells;
    const months = C.months, days = C.days, countries = C.countries;
    const cset = f.countries.length ? new Set(f.countries.map((c) => countries.indexOf(c)).filter((i) => i >= 0)) : null;
    const inC = (c) => !cset || cset.has(c);
    const from = f.from || "0000-01-01", to = f.to || "9999-12-31";
    const inM = months.map((m) => m >= monthStart(from) && m <= to);
    const inD = days.map((d) => d >= from && d <= to);
    const P = {};

    /* days: revenue, weekday, countries, kpis */
    const D = C.day_cells;
    const nd = D.d.length;
    const sel = [];
    for (let i = 0; i < nd; i++) if (inD[D.d[i]] && inC(D.c[i])) sel.push(i);
    const sum = (idx, k) => idx.reduce((s, i) => s + D[k][i], 0);

    /* customers: distinct counts, top customers, rfm, cohorts */
    const K = C.customer_cells;
    const kn = K.k.length;
    const ksel = [];
    for (let i = 0; i < kn; i++) if (inM[K.m[i]] && inC(K.c[i])) ksel.push(i);
    const distinctBuyers = (pred) => { const s = new Set(); ksel.forEach((i) => { if (K.orders[i] > 0 && pred(i)) s.add(K.k[i]); }); return s.size; };

    const gross = sum(sel, "gross"), orders = sum(sel, "orders");
    const dates = sel.filter((i) => D.lines[i] > 0).map((i) => days[D.d[i]]).sort();
    P.kpis = { source: "report", values: {
      gross_sales: money(gross), returns: money(sum(sel, "returns")), net_revenue: money(sum(sel, "net")),
      orders, customers: distinctBuyers(() => true), avg_order_value: moneyDiv(gross, orders),
      order_lines: sum(sel, "lines"), first_date: dates[0] || null, last_date: dates[dates.length - 1] || null } };

    function periods(keyOf, withCustomers) {
      const g = new Map();
      sel.forEach((i) => {
        const r = group(g, keyOf(days[D.d[i]]), () => ({ gross: 0, returns: 0, net: 0, orders: 0 }));
        r.gross += D.gross[i]; r.returns += D.returns[i]; r.net += D.net[i]; r.orders += D.orders[i];
      });
      const buyers = new Map();
      if (withCustomers) ksel.forEach((i) => { if (K.orders[i] > 0) group(buyers, keyOf(months[K.m[i]]), () => new Set()).add(K.k[i]); });
      return [...g.keys()].sort().map((k) => {
        const r = g.get(k);
        return { period_start: k, gross_sales: money(r.gross), returns: money(r.returns), net_revenue: money(r.net),
          orders: r.orders, customers: withCustomers ? (buyers.get(k) ? buyers.get(k).size : 0) : null,
          avg_order_value: moneyDiv(r.gross, r.orders) };
      });
    }
    P.revenue_weekly = { source: "report", period: "weekly", rows: periods(weekStart, false) };
    P.revenue_monthly = { source: "report", period: "monthly", rows: periods(monthStart, true) };
    P.revenue_quarterly = { source: "report", period: "quarterly", rows: periods(quarterStart, true) };

    /* trading days: a day with a sale line in one of the selected countries */
    const trading = new Set();
    sel.forEach((i) => { if (D.trading[i]) trading.add(D.d[i]); });
    const H = C.hour_cells, hours = new Map();
    for (let i = 0; i < H.h.length; i++) {
      if (!inM[H.m[i]] || !inC(H.c[i])) continue;
      const r = group(hours, H.h[i], () => ({ gross: 0, orders: 0 }));
      r.gross += H.gross[i]; r.orders += H.orders[i];
    }
    const nDays = trading.size;
    P.hourly = { source: "report", rows: [...hours.keys()].sort((a, b) => a - b).map((h) => ({
      hour: h, avg_sales: round(money(hours.get(h).gross) / nDays, 2), avg_orders: round(hours.get(h).orders / nDays, 2),
      trading_days: nDays })) };

    const wd = new Map();
    sel.forEach((i) => {
      if (!D.trading[i]) return;
      const dow = ((new Date(isoDay(days[D.d[i]])).getUTCDay() + 6) % 7) + 1;
      const r = group(wd, dow, () => ({ gross: 0, orders: 0, days: new Set() }));
      r.gross += D.gross[i]; r.orders += D.orders[i]; r.days.add(D.d[i]);
    });
    P.weekday = { source: "report", rows: [...wd.keys()].sort().map((w) => { const r = wd.get(w); return {
      weekday: w, avg_sales: round(money(r.gross) / r.days.size, 2), avg_orders: round(r.orders / r.days.size, 2),
      trading_days: r.days.size }; }) };

    const byCountry = new Map();
    sel.forEach((i) => {
      const r = group(byCountry, D.c[i], () => ({ gross: 0, returns: 0, net: 0, orders: 0, buyers: new Set() }));
      r.gross += D.gross[i]; r.returns += D.returns[i]; r.net += D.net[i]; r.orders += D.orders[i];
    });
    ksel.forEach((i) => { if (K.orders[i] > 0 && byCountry.has(K.c[i])) byCountry.get(K.c[i]).buyers.add(K.k[i]); });
    P.countries = { source: "report", rows: [...byCountry.entries()].map(([c, r]) => ({
      country: countries[c], gross_sales: money(r.gross), returns: money(r.returns), net_revenue: money(r.net),
      orders: r.orders, customers: r.buyers.size, _net: r.net }))
      .sort((a, b) => b._net - a._net || byKey(a.country, b.country)).map(({ _net, ...r }) => r) };

    /* products and seasons */
    if (C.product_cells) {
      const Q = C.product_cells, names = C.products;
      const totals = new Map(), seasons = new Map();
      for (let i = 0; i < Q.p.length; i++) {
        if (!inM[Q.m[i]] || !inC(Q.c[i])) continue;
        const t = group(totals, Q.p[i], () => ({ qty: 0, gross: 0, lines: 0 }));
        t.qty += Q.qty[i]; t.gross += Q.gross[i]; t.lines += Q.lines[i];
        const mo = +months[Q.m[i]].slice(5, 7), yr = +months[Q.m[i]].slice(0, 4);
        const season = [12, 1, 2].includes(mo) ? "winter" : mo <= 5 ? "spring" : mo <= 8 ? "summer" : "autumn";
        const s = group(seasons, `${yr + (mo === 12 ? 1 : 0)}|${season}`, () => new Map());
        const st = group(s, Q.p[i], () => ({ qty: 0, gross: 0 }));
        st.qty += Q.qty[i]; st.gross += Q.gross[i];
      }
      const code = (p) => names.stock_code[p];
      const top = (entries, k) => entries.slice().sort((a, b) => b[1][k] - a[1][k] || byKey(code(a[0]), code(b[0]))).slice(0, 10);
      const product = ([p, t]) => ({ stock_code: code(p), description: names.description[p], quantity: t.qty,
        revenue: money(t.gross), lines: t.lines });
      const all = [...totals.entries()];
      P.products = { source: "report", most_sold: top(all, "qty").map(product), most_valuable: top(all, "gross").map(product) };
      const srows = [];
      [...seasons.keys()].forEach((key) => {
        const [y, season] = key.split("|");
        const entries = [...seasons.get(key).entries()];
        [["revenue", "gross"], ["quantity", "qty"]].forEach(([ranking, k]) => top(entries, k).forEach(([p, t], i) =>
          srows.push({ season_year: +y, season, ranking, rank: i + 1, stock_code: code(p), description: names.description[p],
            revenue: money(t.gross), quantity: t.qty })));
      });
      const order = ["winter", "spring", "summer", "autumn"];
      srows.sort((a, b) => a.season_year - b.season_year || order.indexOf(a.season) - order.indexOf(b.season)
        || byKey(a.ranking, b.ranking) || a.rank - b.rank);
      P.seasons = { source: "report", rows: srows };
    } else {
      P.products = { missing: ["fct_order_line", "dim_product"] };
      P.seasons = { missing: ["fct_order_line", "dim_product"] };
    }

    /* customers */
    const per = new Map();
    ksel.forEach((i) => {
      const r = group(per, K.k[i], () => ({ gross: 0, returns: 0, net: 0, orders: 0, last: -1, rowsBy: new Map() }));
      r.gross += K.gross[i]; r.returns += K.returns[i]; r.net += K.net[i]; r.orders += K.orders[i];
      r.last = Math.max(r.last, K.last_sale[i]);
      r.rowsBy.set(K.c[i], (r.rowsBy.get(K.c[i]) || 0) + K.rows[i]);
    });
    const ids = C.customer_ids;
    // where the customer ordered most often; ties: the first country by name (as the server)
    const mode = (m) => [...m.entries()].sort((a, b) => b[1] - a[1] || byKey(countries[a[0]], countries[b[0]]))[0][0];
    P.customers = { source: "report", rows: [...per.entries()].filter(([, r]) => r.gross > 0)
      .sort((a, b) => b[1].gross - a[1].gross || byKey(ids[a[0]], ids[b[0]])).slice(0, 10)
      .map(([k, r]) => ({ customer_id: ids[k], country: countries[mode(r.rowsBy)], gross_sales: money(r.gross),
        returns: money(r.returns), net_revenue: money(r.net), orders: r.orders })) };

    /* RFM, with the mart's rules over the selection */
    const refDate = dates.length ? isoDay(dates[dates.length - 1]) : null;
    const measured = [...per.entries()].filter(([, r]) => r.orders > 0).map(([k, r]) => ({
      id: ids[k], recency: Math.round((refDate - isoDay(days[r.last])) / DAY_MS), frequency: r.orders, monetary: r.net }));
    ntile5(measured.slice().sort((a, b) => b.recency - a.recency || byKey(a.id, b.id)), (x, b) => { x.r = b; });
    ntile5(measured.slice().sort((a, b) => a.frequency - b.frequency || byKey(a.id, b.id)), (x, b) => { x.f = b; });
    ntile5(measured.slice().sort((a, b) => a.monetary - b.monetary || byKey(a.id, b.id)), (x, b) => { x.m = b; });
    const segs = new Map();
    measured.forEach((x) => {
      const s = x.r >= 4 && x.f >= 4 && x.m >= 4 ? "Champions" : x.r >= 3 && x.f >= 4 ? "Loyal"
        : x.r >= 4 && x.f === 1 ? "New" : x.r >= 4 ? "Potential loyalist" : x.r <= 2 && x.f >= 3 ? "At risk"
          : x.r === 3 ? "Need attention" : x.r === 1 && x.f === 1 ? "Lost" : "Hibernating";
      const g = group(segs, s, () => ({ n: 0, monetary: 0, recency: 0, frequency: 0 }));
      g.n += 1; g.monetary += x.monetary; g.recency += x.recency; g.frequency += x.frequency;
    });
    P.rfm = { source: "report", rows: SEGMENTS.filter((s) => segs.has(s)).map((s) => { const g = segs.get(s); return {
      segment: s, customers: g.n, monetary: money(g.monetary), avg_recency_days: round(g.recency / g.n, 1),
      avg_frequency: round(g.frequency / g.n, 2) }; }) };

    /* cohorts: first sale month in the selected countries over all time */
    const active = new Map();
    for (let i = 0; i < kn; i++) if (K.orders[i] > 0 && inC(K.c[i])) group(active, K.k[i], () => new Set()).add(K.m[i]);
    const lastM = months.reduce((acc, m, i) => (m <= to ? i : acc), -1);
    const sizes = new Map(), counts = new Map();
    active.forEach((ms) => {
      const first = Math.min(...ms);
      if (!inM[first]) return;
      sizes.set(first, (sizes.get(first) || 0) + 1);
      ms.forEach((m) => { if (m <= lastM) { const key = `${first}|${m}`; counts.set(key, (counts.get(key) || 0) + 1); } });
    });
    const monthIndex = (iso) => +iso.slice(0, 4) * 12 + +iso.slice(5, 7);
    P.cohorts = { source: "report", rows: [...counts.entries()].map(([key, n]) => {
      const [c, m] = key.split("|").map(Number);
      return { cohort_month: months[c], months_since_first: monthIndex(months[m]) - monthIndex(months[c]),
        cohort_size: sizes.get(c), active_customers: n, retention: round(n / sizes.get(c), 4) };
    }).sort((a, b) => byKey(a.cohort_month, b.cohort_month) || a.months_since_first - b.months_since_first) };

    /* largest invoices: the top 10 of each month × country cell are enough for any union */
    if (C.invoice_cells) {
      const I = C.invoice_cells, out = [];
      for (let i = 0; i < I.no.length && out.length < 10; i++) { // cells are sorted largest first
        if (inD[I.d[i]] && inC(I.c[i])) out.push({ invoice_no: I.no[i], customer_id: I.cust[i], country: countries[I.c[i]],
          invoice_date: days[I.d[i]], lines: I.lines[i], items: I.items[i], gross_amount: money(I.gross[i]) });
      }
      P.invoices = { source: "report", rows: out };
    } else P.invoices = { missing: ["fct_order"] };

    /* quarantine: raw month and raw country of each rejected row */
    if (C.quarantine_cells) {
      const Q = C.quarantine_cells, reasons = new Map();
      const dated = !!(f.from || f.to);
      let unattributed = 0;
      for (let i = 0; i < Q.r.length; i++) {
        if (dated && Q.m[i] === -1) { unattributed += Q.rows[i]; continue; }
        if (dated && (Q.m[i] < 0 || !inM[Q.m[i]])) continue;
        if (cset && !cset.has(Q.c[i])) continue;
        reasons.set(Q.r[i], (reasons.get(Q.r[i]) || 0) + Q.rows[i]);
      }
      P.quarantine = { source: "report", accepted_rows: sum(sel, "lines"), unattributed_rows: unattributed,
        other_entities: (cube.all.panels.quarantine || {}).other_entities || [],
        rows: [...reasons.entries()].map(([r, n]) => ({ reason: C.reasons[r], rows: n }))
          .sort((a, b) => b.rows - a.rows || byKey(a.reason, b.reason)) };
    } else P.quarantine = { missing: ["quarantine_order_lines"] };

    return { filter: f, empty: false, panels: P };
  }

  CF.reportSource = function () {
    let cube = null;
    const ready = () => (cube ? Promise.resolve(cube) : inflate().then((c) => (cube = c)));
    return {
      meta: async () => (await ready()).meta,
      data: async (f) => {
        const c = await ready();
        const started = performance.now();
        const all = !f.from && !f.to && !f.countries.length;
        const answer = all ? c.all : aggregate(c, f);
        return { ...answer, seconds: (performance.now() - started) / 1000 };
      },
    };
  };
  CF.reportAggregate = aggregate;
})();
