/* cartflow dashboard: one render function per panel, all drawing with CF.charts.
 *
 * render(data, state) takes the panels' answers (from the server's JSON or from the
 * report's in-browser aggregation: the same shape) and redraws every card.
 */
(function () {
  "use strict";
  const CF = (window.CF = window.CF || {});
  const { fmt, charts, dates } = CF;
  const $ = (id) => document.getElementById(id);
  const { dayLabel, monthLabel, quarterLabel, weekTick, cap } = dates;
  const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const SEASONS = ["winter", "spring", "summer", "autumn"];
  let state = null;

  /* ---------- rendering ---------- */
  function card(name) { return document.querySelector(`[data-panel="${name}"]`); }

  function missing(name, panel) {
    if (panel && !panel.missing) return false;
    const el = card(name).querySelector(".chart");
    charts.none(el, panel ? `Not published yet (${panel.missing.join(", ")}): run \`cartflow run\`.` : "Not available.");
    return true;
  }

  function note(name, text) {
    const c = card(name);
    let p = c.querySelector("p.note");
    if (!text) { if (p) p.remove(); return; }
    if (!p) { p = document.createElement("p"); p.className = "note"; c.appendChild(p); }
    p.textContent = text;
  }

  function renderKpis(p, q) {
    const box = $("kpis");
    box.replaceChildren();
    if (!p || p.missing) return;
    const v = p.values;
    const received = q && !q.missing ? q.accepted_rows + q.rows.reduce((s, r) => s + r.rows, 0) : null;
    const quarantined = q && !q.missing ? q.rows.reduce((s, r) => s + r.rows, 0) : null;
    const tiles = [
      ["gross_sales", "Gross sales", fmt.money(v.gross_sales, 0), fmt.money(v.gross_sales)],
      ["returns", "Returns", fmt.money(v.returns, 0), fmt.money(v.returns)],
      ["net_revenue", "Net revenue", fmt.money(v.net_revenue, 0), fmt.money(v.net_revenue)],
      ["orders", "Orders", fmt.num(v.orders), "invoices with a sale line"],
      ["customers", "Customers", fmt.num(v.customers), "known customers who bought"],
      ["avg_order_value", "Avg order value", fmt.money(v.avg_order_value), "gross sales / orders"],
      ["quarantined", "Quarantined", received ? fmt.pct(quarantined / received, 2) : "–",
        received ? `${fmt.num(quarantined)} of ${fmt.num(received)} rows` : ""],
    ];
    tiles.forEach(([key, label, value, noteText]) => {
      const d = document.createElement("div");
      d.className = "kpi";
      d.dataset.kpi = key;
      d.dataset.value = key === "quarantined" ? String(quarantined) : String(v[key]);
      d.innerHTML = '<div class="label"></div><div class="value"></div><div class="note"></div>';
      d.children[0].textContent = label;
      d.children[1].textContent = value;
      d.children[2].textContent = noteText;
      box.appendChild(d);
    });
  }

  function legend(el, items) {
    let lg = el.previousElementSibling;
    if (!lg || !lg.classList.contains("legend")) {
      lg = document.createElement("div");
      lg.className = "legend";
      el.parentNode.insertBefore(lg, el);
    }
    lg.innerHTML = items.map(([cls, name]) => `<span><i style="background:var(--${cls})"></i>${name}</span>`).join("");
  }

  const PERIOD = {
    revenue_weekly: { label: (s) => "Week of " + dayLabel(s), tick: weekTick },
    revenue_monthly: { label: monthLabel, tick: (s) => monthLabel(s).replace(" 20", " ") },
    revenue_quarterly: { label: quarterLabel, tick: quarterLabel },
  };

  function renderRevenue(name, p) {
    if (missing(name, p)) return;
    const el = card(name).querySelector(".chart");
    const rows = p.rows, per = PERIOD[name];
    legend(el, [["gross", "Gross sales"], ["returns", "Returns"], ["net", "Net revenue"]]);
    charts.columns(el, {
      labels: rows.map((r) => r.period_start),
      tick: per.tick,
      axis: fmt.moneyShort,
      height: name === "revenue_weekly" ? 240 : 220,
      series: [
        { key: "gross_sales", name: "Gross sales", values: rows.map((r) => r.gross_sales) },
        { key: "returns", name: "Returns", values: rows.map((r) => r.returns) },
        { key: "net_revenue", name: "Net revenue", kind: "line", values: rows.map((r) => r.net_revenue) },
      ],
      tip: (i) => {
        const r = rows[i];
        return [per.label(r.period_start), `Gross sales ${fmt.money(r.gross_sales)}`, `Returns ${fmt.money(r.returns)}`,
          `Net revenue ${fmt.money(r.net_revenue)}`,
          `Orders ${fmt.num(r.orders)}` + (r.customers !== null && r.customers !== undefined ? ` · customers ${fmt.num(r.customers)}` : ""),
          `Avg order value ${fmt.money(r.avg_order_value)}`].join("\n");
      },
    });
  }

  function renderHourly(p) {
    if (missing("hourly", p)) return;
    const el = card("hourly").querySelector(".chart");
    if (!p.rows.length) return charts.none(el);
    const by = new Map(p.rows.map((r) => [r.hour, r]));
    const lo = Math.min(...by.keys()), hi = Math.max(...by.keys());
    const hours = [];
    for (let h = lo; h <= hi; h++) hours.push(h);
    const days = p.rows[0].trading_days;
    charts.columns(el, {
      labels: hours.map((h) => `${h}:00`), axis: fmt.moneyShort,
      series: [{ key: "avg_sales", values: hours.map((h) => (by.get(h) ? by.get(h).avg_sales : 0)) }],
      tip: (i) => {
        const r = by.get(hours[i]);
        return [`${hours[i]}:00–${hours[i]}:59`, `Avg gross sales ${fmt.money(r ? r.avg_sales : 0)}`,
          `Avg orders ${fmt.num(r ? r.avg_orders : 0, 2)}`, `over ${fmt.num(days)} trading days`].join("\n");
      },
    });
  }

  function renderWeekday(p) {
    if (missing("weekday", p)) return;
    const el = card("weekday").querySelector(".chart");
    if (!p.rows.length) return charts.none(el);
    const by = new Map(p.rows.map((r) => [r.weekday, r]));
    charts.columns(el, {
      labels: WEEKDAYS, tick: (d) => d.slice(0, 3), axis: fmt.moneyShort,
      series: [{ key: "avg_sales", values: WEEKDAYS.map((_, i) => (by.get(i + 1) ? by.get(i + 1).avg_sales : 0)) }],
      tip: (i) => {
        const r = by.get(i + 1);
        if (!r) return `${WEEKDAYS[i]}\nNo trading`;
        return [WEEKDAYS[i], `Avg gross sales ${fmt.money(r.avg_sales)}`, `Avg orders ${fmt.num(r.avg_orders, 2)}`,
          `over ${fmt.num(r.trading_days)} trading days`].join("\n");
      },
    });
  }

  function renderSeasons(p) {
    const c = card("seasons");
    const controls = c.querySelector(".controls");
    controls.replaceChildren();
    if (missing("seasons", p)) return;
    const keys = [];
    p.rows.forEach((r) => {
      const k = `${r.season_year}-${r.season}`;
      if (!keys.includes(k)) keys.push(k);
    });
    keys.sort((a, b) => {
      const [ya, sa] = a.split("-"), [yb, sb] = b.split("-");
      return ya - yb || SEASONS.indexOf(sa) - SEASONS.indexOf(sb);
    });
    if (!keys.includes(state.season)) state.season = keys[keys.length - 1] || null;
    const chip = (text, pressed, onClick, extra) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "chip" + (extra ? " " + extra : "");
      b.textContent = text;
      b.setAttribute("aria-pressed", String(pressed));
      b.addEventListener("click", onClick);
      controls.appendChild(b);
      return b;
    };
    keys.forEach((k) => {
      const [y, s] = k.split("-");
      chip(`${cap(s)} ${y}`, k === state.season, () => { state.season = k; renderSeasons(p); }).dataset.season = k;
    });
    [["revenue", "By revenue"], ["quantity", "By units"]].forEach(([k, t], i) => {
      chip(t, state.ranking === k, () => { state.ranking = k; renderSeasons(p); }, i === 0 ? "sep" : "").dataset.ranking = k;
    });
    const rows = p.rows.filter((r) => `${r.season_year}-${r.season}` === state.season && r.ranking === state.ranking);
    const byRevenue = state.ranking === "revenue";
    charts.hbars(c.querySelector(".chart"), {
      rows: rows.map((r) => ({
        label: `${r.description || r.stock_code}`, value: byRevenue ? r.revenue : r.quantity,
        text: byRevenue ? fmt.moneyShort(r.revenue) : fmt.num(r.quantity),
        tip: [`#${r.rank} ${r.description || ""} (${r.stock_code})`, `Net revenue ${fmt.money(r.revenue)}`,
          `Units (net) ${fmt.num(r.quantity)}`].join("\n"),
      })),
    });
  }

  function productRows(rows, byRevenue) {
    return rows.map((r) => ({
      label: r.description || r.stock_code, value: byRevenue ? r.revenue : r.quantity,
      text: byRevenue ? fmt.moneyShort(r.revenue) : fmt.num(r.quantity),
      tip: [`${r.description || ""} (${r.stock_code})`, `Units (net) ${fmt.num(r.quantity)}`, `Net revenue ${fmt.money(r.revenue)}`,
        `Lines ${fmt.num(r.lines)}`].join("\n"),
    }));
  }

  function renderProducts(p) {
    if (missing("most_sold", p) || missing("most_valuable", p)) return;
    charts.hbars(card("most_sold").querySelector(".chart"), { rows: productRows(p.most_sold, false) });
    charts.hbars(card("most_valuable").querySelector(".chart"), { rows: productRows(p.most_valuable, true) });
  }

  function renderCustomers(p) {
    if (missing("customers", p)) return;
    charts.hbars(card("customers").querySelector(".chart"), {
      rows: p.rows.map((r) => ({
        label: `${r.customer_id} · ${r.country || "?"}`, value: r.gross_sales, text: fmt.moneyShort(r.gross_sales),
        tip: [`Customer ${r.customer_id} (${r.country || "no country"})`, `Gross sales ${fmt.money(r.gross_sales)}`,
          `Returns ${fmt.money(r.returns)}`, `Net revenue ${fmt.money(r.net_revenue)}`, `Orders ${fmt.num(r.orders)}`].join("\n"),
      })),
    });
  }

  function renderInvoices(p) {
    if (missing("invoices", p)) return;
    charts.hbars(card("invoices").querySelector(".chart"), {
      rows: p.rows.map((r) => ({
        label: `${r.invoice_no} · ${r.customer_id === "unknown" ? "guest" : r.customer_id}`, value: r.gross_amount,
        text: fmt.moneyShort(r.gross_amount),
        tip: [`Invoice ${r.invoice_no}`, `Gross ${fmt.money(r.gross_amount)}`, `${dayLabel(r.invoice_date)} · ${r.country}`,
          `Customer ${r.customer_id}`, `${fmt.num(r.lines)} lines · ${fmt.num(r.items)} items`].join("\n"),
      })),
    });
  }

  function renderCountries(p) {
    if (missing("countries", p)) return;
    const top = p.rows.slice(0, 12), rest = p.rows.slice(12);
    const rows = top.map((r) => ({ ...r, label: r.country }));
    if (rest.length) {
      const sum = (k) => rest.reduce((s, r) => s + r[k], 0);
      rows.push({ label: `Other (${rest.length} countries)`, gross_sales: sum("gross_sales"), returns: sum("returns"),
        net_revenue: sum("net_revenue"), orders: sum("orders"), customers: null });
    }
    charts.hbars(card("countries").querySelector(".chart"), {
      rows: rows.map((r) => ({
        label: r.label, value: r.net_revenue, text: fmt.moneyShort(r.net_revenue),
        tip: [r.label, `Net revenue ${fmt.money(r.net_revenue)}`, `Gross sales ${fmt.money(r.gross_sales)}`,
          `Returns ${fmt.money(r.returns)}`, `Orders ${fmt.num(r.orders)}` + (r.customers !== null ? ` · customers ${fmt.num(r.customers)}` : "")].join("\n"),
      })),
    });
  }

  function renderRfm(p) {
    if (missing("rfm", p)) return;
    const total = p.rows.reduce((s, r) => s + r.customers, 0);
    charts.hbars(card("rfm").querySelector(".chart"), {
      rows: p.rows.map((r) => ({
        label: r.segment, value: r.customers, text: `${fmt.num(r.customers)} · ${fmt.pct(r.customers / total, 0)}`,
        tip: [r.segment, `${fmt.num(r.customers)} customers (${fmt.pct(r.customers / total)})`,
          `Net value ${fmt.money(r.monetary)}`, `Avg days since last purchase ${fmt.num(r.avg_recency_days, 1)}`,
          `Avg orders ${fmt.num(r.avg_frequency, 2)}`].join("\n"),
      })),
    });
  }

  function renderCohorts(p) {
    if (missing("cohorts", p)) return;
    const cohorts = [...new Set(p.rows.map((r) => r.cohort_month))].sort();
    const maxK = p.rows.reduce((m, r) => Math.max(m, r.months_since_first), 0);
    const cols = [];
    for (let k = 0; k <= maxK; k++) cols.push(k);
    const size = new Map(p.rows.map((r) => [r.cohort_month, r.cohort_size]));
    charts.heatmap(card("cohorts").querySelector(".chart"), {
      rows: cohorts, cols,
      rowTick: (c) => `${monthLabel(c)} (${size.get(c)})`,
      colTick: (k) => (k === 0 ? "M0" : `+${k}`),
      cells: p.rows.map((r) => ({
        r: cohorts.indexOf(r.cohort_month), c: r.months_since_first, value: r.retention, text: fmt.pct(r.retention, 0),
        tip: [`${monthLabel(r.cohort_month)} cohort, month +${r.months_since_first}`,
          `${fmt.num(r.active_customers)} of ${fmt.num(r.cohort_size)} customers bought (${fmt.pct(r.retention)})`].join("\n"),
      })),
    });
  }

  function renderQuarantine(p) {
    if (missing("quarantine", p)) return;
    const quarantined = p.rows.reduce((s, r) => s + r.rows, 0);
    const received = p.accepted_rows + quarantined;
    charts.hbars(card("quarantine").querySelector(".chart"), {
      empty: "No row was quarantined in this selection.",
      color: "var(--warn)",
      rows: p.rows.map((r) => ({
        label: r.reason, value: r.rows, text: `${fmt.num(r.rows)} · ${fmt.pct(r.rows / received, 2)}`,
        tip: [r.reason, `${fmt.num(r.rows)} rows quarantined`, `${fmt.pct(r.rows / received, 3)} of ${fmt.num(received)} rows received`,
          `${fmt.pct(r.rows / quarantined, 1)} of the quarantine`].join("\n"),
      })),
    });
    let text = `${fmt.num(quarantined)} of ${fmt.num(received)} rows received were quarantined (${fmt.pct(quarantined / (received || 1), 2)}).`;
    if (p.unattributed_rows) text += ` ${fmt.num(p.unattributed_rows)} more have a date that cannot be read and match no date range.`;
    const others = (p.other_entities || []).map((e) => `${e.entity.replace(/_/g, " ")} ${fmt.num(e.rows)}`
      + (e.received ? ` of ${fmt.num(e.received)} (${fmt.pct(e.rows / e.received, 2)})` : ""));
    if (others.length) text += ` Other entities, whole lake: ${others.join(" · ")}.`;
    note("quarantine", text);
  }

  function render(data, pageState) {
    state = pageState;
    const P = data.panels;
    renderKpis(P.kpis, P.quarantine);
    ["revenue_weekly", "revenue_monthly", "revenue_quarterly"].forEach((n) => renderRevenue(n, P[n]));
    renderHourly(P.hourly);
    renderWeekday(P.weekday);
    renderSeasons(P.seasons);
    renderProducts(P.products);
    renderCustomers(P.customers);
    renderInvoices(P.invoices);
    renderCountries(P.countries);
    renderRfm(P.rfm);
    renderCohorts(P.cohorts);
    renderQuarantine(P.quarantine);
    state.renders += 1;
    document.body.dataset.renders = String(state.renders);
  }

  CF.render = render;
})();
