/* cartflow charts: small hand-written SVG charts with hover tooltips.
 *
 * No dependencies and nothing fetched: the dashboard must work offline and inside a
 * single HTML file. Every mark carries its raw number in data-value (and its
 * category in data-label), so what is drawn can be checked against SQL.
 */
(function () {
  "use strict";
  const CF = (window.CF = window.CF || {});
  const NS = "http://www.w3.org/2000/svg";

  /* ---------- formatting ---------- */
  const fmt = {
    currency: "GBP",
    money(v, digits) {
      if (v === null || v === undefined) return "–";
      const d = digits === undefined ? 2 : digits;
      return new Intl.NumberFormat("en-GB", { style: "currency", currency: fmt.currency,
        minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
    },
    moneyShort(v) {
      if (v === null || v === undefined) return "–";
      const a = Math.abs(v);
      if (a >= 1e6) return fmt.money(v / 1e6, a >= 1e7 ? 0 : 1).replace(/(\d)$/, "$1") + "M";
      if (a >= 1e3) return fmt.money(v / 1e3, a >= 1e4 ? 0 : 1) + "k";
      return fmt.money(v, 0);
    },
    num(v, digits) {
      if (v === null || v === undefined) return "–";
      const d = digits || 0;
      return new Intl.NumberFormat("en-GB", { minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
    },
    numShort(v) {
      const a = Math.abs(v);
      if (a >= 1e6) return fmt.num(v / 1e6, 1) + "M";
      if (a >= 1e4) return fmt.num(v / 1e3, 0) + "k";
      if (a >= 1e3) return fmt.num(v / 1e3, 1) + "k";
      return fmt.num(v, Math.abs(v) < 10 && v % 1 ? 1 : 0);
    },
    pct(v, digits) {
      if (v === null || v === undefined || !isFinite(v)) return "–";
      return (v * 100).toFixed(digits === undefined ? 1 : digits) + "%";
    },
  };
  CF.fmt = fmt;

  /* ---------- dates: ISO strings in, labels out (no time zones involved) ---------- */
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const parts = (iso) => iso.split("-").map(Number);
  CF.dates = {
    MONTHS,
    parts,
    dayLabel: (iso) => { const [y, m, d] = parts(iso); return `${d} ${MONTHS[m - 1]} ${y}`; },
    monthLabel: (iso) => { const [y, m] = parts(iso); return `${MONTHS[m - 1]} ${y}`; },
    quarterLabel: (iso) => { const [y, m] = parts(iso); return `${y} Q${Math.floor((m - 1) / 3) + 1}`; },
    weekTick: (iso) => { const [y, m, d] = parts(iso); return `${d} ${MONTHS[m - 1]}${m === 1 && d <= 7 ? " " + String(y).slice(2) : ""}`; },
    cap: (s) => s.charAt(0).toUpperCase() + s.slice(1),
  };

  /* ---------- svg helpers ---------- */
  function node(tag, attrs, parent, text) {
    const n = document.createElementNS(NS, tag);
    for (const k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) n.setAttribute(k, attrs[k]);
    if (text !== undefined) n.textContent = text;
    if (parent) parent.appendChild(n);
    return n;
  }

  function svgFor(container, width, height) {
    container.replaceChildren();
    return node("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      preserveAspectRatio: "xMinYMin meet" }, container);
  }

  function none(container, text) {
    container.replaceChildren();
    const p = document.createElement("p");
    p.className = "none";
    p.textContent = text || "No data in this selection.";
    container.appendChild(p);
  }

  /** A "nice" axis maximum and step for values up to v (1, 2, 2.5 or 5 × 10^k). */
  function niceScale(lo, hi, count) {
    const span = hi - lo || Math.abs(hi) || 1;
    const raw = span / (count || 4);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    return { lo: Math.floor(lo / step) * step, hi: Math.ceil(hi / step) * step, step };
  }

  function truncate(text, px) {
    const max = Math.max(4, Math.floor(px / 6.4));
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  /* ---------- tooltip: one element for the page, driven by data-tip ---------- */
  function tooltip() {
    return document.getElementById("tooltip");
  }

  function showTip(target, x, y) {
    const t = tooltip();
    if (!t) return;
    const lines = (target.getAttribute("data-tip") || "").split("\n");
    t.replaceChildren();
    lines.forEach((line, i) => {
      if (i) t.appendChild(document.createElement("br"));
      if (i === 0) {
        const b = document.createElement("b");
        b.textContent = line;
        t.appendChild(b);
      } else t.appendChild(document.createTextNode(line));
    });
    t.hidden = false;
    placeTip(x, y);
  }

  function placeTip(x, y) {
    const t = tooltip();
    if (!t || t.hidden) return;
    const w = t.offsetWidth, h = t.offsetHeight;
    const left = x + 14 + w > window.innerWidth ? x - w - 14 : x + 14;
    const top = y + 14 + h > window.innerHeight ? y - h - 14 : y + 14;
    t.style.left = Math.max(4, left) + "px";
    t.style.top = Math.max(4, top) + "px";
  }

  document.addEventListener("mouseover", (e) => {
    const target = e.target.closest && e.target.closest("[data-tip]");
    if (target) showTip(target, e.clientX, e.clientY);
    else if (tooltip()) tooltip().hidden = true;
  });
  document.addEventListener("mousemove", (e) => placeTip(e.clientX, e.clientY));
  document.addEventListener("mouseleave", () => tooltip() && (tooltip().hidden = true));

  /* ---------- vertical bars (grouped) and lines over categories ---------- */
  /**
   * opts: { labels: [...], series: [{key, name, values, kind: "bar"|"line"}],
   *         axis: v => text, tick: label => text, tip: i => text, height }
   */
  function columns(container, opts) {
    const n = opts.labels.length;
    if (!n) return none(container);
    const width = Math.max(320, container.clientWidth || 640);
    const height = opts.height || 230;
    const m = { l: 58, r: 10, t: 10, b: 26 };
    const pw = width - m.l - m.r, ph = height - m.t - m.b;
    let lo = 0, hi = 0;
    opts.series.forEach((s) => s.values.forEach((v) => { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }));
    const sc = niceScale(lo, hi, 4);
    const y = (v) => m.t + ph - ((v - sc.lo) / (sc.hi - sc.lo || 1)) * ph;
    const svg = svgFor(container, width, height);
    const grid = node("g", { class: "grid" }, svg);
    for (let v = sc.lo; v <= sc.hi + sc.step / 2; v += sc.step) {
      node("line", { x1: m.l, x2: width - m.r, y1: y(v), y2: y(v) }, grid);
      node("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, grid, (opts.axis || fmt.numShort)(v));
    }
    const band = pw / n;
    const bars = opts.series.filter((s) => s.kind !== "line");
    const inner = band * 0.8;
    const bw = bars.length ? Math.max(1, inner / bars.length) : 0;
    const every = Math.max(1, Math.ceil((n * 64) / pw));
    const marks = node("g", { class: "marks" }, svg);
    for (let i = 0; i < n; i++) {
      const x0 = m.l + i * band;
      const g = node("g", { class: "col", "data-label": opts.labels[i] }, marks);
      bars.forEach((s, j) => {
        const v = s.values[i];
        if (v === null || v === undefined) return;
        node("rect", { class: `bar ${s.key}`, x: x0 + band * 0.1 + j * bw, width: Math.max(1, bw - (bars.length > 1 ? 1 : 0)),
          y: Math.min(y(v), y(0)), height: Math.max(0.5, Math.abs(y(v) - y(0))),
          "data-key": s.key, "data-label": opts.labels[i], "data-value": v }, g);
      });
      if (i % every === 0) {
        node("text", { x: x0 + band / 2, y: height - 8, "text-anchor": "middle" }, svg,
          (opts.tick || String)(opts.labels[i]));
      }
    }
    opts.series.filter((s) => s.kind === "line").forEach((s) => {
      const pts = s.values.map((v, i) => (v === null ? null : [m.l + i * band + band / 2, y(v)]));
      const d = pts.filter(Boolean).map((p, i) => (i ? "L" : "M") + p[0].toFixed(1) + "," + p[1].toFixed(1)).join("");
      node("path", { class: "line", d, "data-key": s.key }, marks);
      pts.forEach((p, i) => p && node("circle", { class: "dot", cx: p[0], cy: p[1], r: n > 30 ? 2 : 3,
        "data-key": s.key, "data-label": opts.labels[i], "data-value": s.values[i] }, marks));
    });
    node("line", { class: "axis", x1: m.l, x2: width - m.r, y1: y(0), y2: y(0), stroke: "#b9c0cc" }, svg);
    const hover = node("g", { class: "hover" }, svg);
    for (let i = 0; i < n; i++) {
      node("rect", { class: "band", x: m.l + i * band, y: m.t, width: band, height: ph,
        "data-label": opts.labels[i], "data-tip": opts.tip(i) }, hover);
    }
  }

  /* ---------- horizontal bars: ranked lists ---------- */
  /**
   * opts: { rows: [{label, value, text, tip}], color }
   */
  function hbars(container, opts) {
    const rows = opts.rows;
    if (!rows.length) return none(container, opts.empty);
    const width = Math.max(320, container.clientWidth || 560);
    const rh = 24;
    const height = rows.length * rh + 4;
    const lw = Math.min(230, Math.round(width * 0.38));
    const vw = 78;
    const pw = width - lw - vw - 8;
    const max = Math.max(...rows.map((r) => Math.abs(r.value)), 1e-9);
    const svg = svgFor(container, width, height);
    rows.forEach((r, i) => {
      const y0 = i * rh + 2;
      const g = node("g", { class: "row", "data-label": r.label, "data-value": r.value, "data-tip": r.tip }, svg);
      node("rect", { class: "band", x: 0, y: y0, width, height: rh }, g);
      node("text", { class: "label", x: lw - 8, y: y0 + rh / 2 + 4, "text-anchor": "end" }, g, truncate(r.label, lw - 10));
      const w = Math.max(1, (Math.abs(r.value) / max) * pw);
      node("rect", { class: "bar", x: lw, y: y0 + 4, width: w, height: rh - 8, rx: 2,
        style: opts.color ? `fill:${opts.color}` : undefined, "data-label": r.label, "data-value": r.value }, g);
      node("text", { class: "val", x: lw + w + 6, y: y0 + rh / 2 + 4 }, g, r.text);
    });
  }

  /* ---------- heatmap: cohort × months since ---------- */
  /**
   * opts: { rows: [label], cols: [label], cells: [{r, c, value (0..1), text, tip}], rowTick, colTick }
   */
  function heatmap(container, opts) {
    if (!opts.rows.length) return none(container);
    const width = Math.max(320, container.clientWidth || 800);
    const lw = 92, top = 22;
    const cw = Math.min(72, Math.max(18, (width - lw) / Math.max(opts.cols.length, 1)));
    const ch = 22;
    const height = top + opts.rows.length * ch + 4;
    const svg = svgFor(container, width, height);
    opts.cols.forEach((c, j) => node("text", { x: lw + j * cw + cw / 2, y: 14, "text-anchor": "middle" }, svg,
      opts.colTick ? opts.colTick(c) : String(c)));
    opts.rows.forEach((r, i) => node("text", { x: lw - 8, y: top + i * ch + ch / 2 + 4, "text-anchor": "end" }, svg,
      opts.rowTick ? opts.rowTick(r) : String(r)));
    opts.cells.forEach((cell) => {
      const x = lw + cell.c * cw, yy = top + cell.r * ch;
      const v = Math.max(0, Math.min(1, cell.value));
      const light = 96 - v * 62;
      node("rect", { class: "cell", x, y: yy, width: cw, height: ch, style: `fill:hsl(218,66%,${light}%)`,
        "data-row": opts.rows[cell.r], "data-col": opts.cols[cell.c], "data-value": cell.value, "data-tip": cell.tip }, svg);
      if (cw >= 30) node("text", { class: "cell-text" + (light < 58 ? " light" : ""), x: x + cw / 2, y: yy + ch / 2 + 4,
        "text-anchor": "middle" }, svg, cell.text);
    });
  }

  CF.charts = { columns, hbars, heatmap, none };
})();
