/* cartflow dashboard: the page controller — filters, URL state, data loading.
 *
 * The same code drives the live page (data from /dashboard/api, aggregated in SQL on
 * the server) and the offline report (data aggregated in the browser by report.js
 * from pre-aggregated cells embedded in the file): both hand render() the same shape.
 */
(function () {
  "use strict";
  const CF = (window.CF = window.CF || {});
  const { fmt } = CF;
  const $ = (id) => document.getElementById(id);
  const { MONTHS, parts, dayLabel } = CF.dates;

  const state = { filter: { from: null, to: null, countries: [] }, meta: null, data: null, seq: 0,
    season: null, ranking: "revenue", renders: 0 };
  let source = null;

  /* ---------- data sources ---------- */
  function liveSource(cfg) {
    async function get(path) {
      const r = await fetch(cfg.api + path, { headers: { Accept: "application/json" } });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(body.message || `${r.status} ${r.statusText}`);
      return body;
    }
    return {
      meta: () => get("/meta"),
      data: (f) => {
        const q = new URLSearchParams();
        if (f.from) q.set("from", f.from);
        if (f.to) q.set("to", f.to);
        f.countries.forEach((c) => q.append("country", c));
        return get("/data" + (q.toString() ? "?" + q : ""));
      },
    };
  }

  /* ---------- filters ---------- */
  function readUrl() {
    const q = new URLSearchParams(location.search);
    return { from: q.get("from") || null, to: q.get("to") || null, countries: q.getAll("country") };
  }

  function writeUrl(f) {
    if (CF.config.mode !== "live") return;
    const q = new URLSearchParams();
    if (f.from) q.set("from", f.from);
    if (f.to) q.set("to", f.to);
    f.countries.forEach((c) => q.append("country", c));
    history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
  }

  function monthOptions(meta, end) {
    const out = [];
    let [y, m] = parts(meta.date_min);
    const [y1, m1] = parts(meta.date_max);
    while (y < y1 || (y === y1 && m <= m1)) {
      const first = `${y}-${String(m).padStart(2, "0")}-01`;
      const last = new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
      out.push({ value: end ? last : first, label: `${MONTHS[m - 1]} ${y}` });
      m += 1;
      if (m > 12) { m = 1; y += 1; }
    }
    return out;
  }

  /* Days are shown and typed the way the page writes them ("1 Dec 2010"). A native
   * <input type=date> would show the browser's locale format instead (12/01/2010 in en-US,
   * which reads as 12 January in most of the world), so the field is text, and the
   * native calendar opens from a button beside it. */
  const MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december"];

  function parseDay(text) {
    const t = text.trim().replace(/,/g, " ");
    let y, m, d, match;
    if ((match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(t))) {
      [y, m, d] = [+match[1], +match[2], +match[3]];
    } else if ((match = /^(\d{1,2})\s+([a-z]{3,})\.?\s+(\d{4})$/i.exec(t))) {
      const name = match[2].toLowerCase();
      [y, m, d] = [+match[3], MONTH_NAMES.findIndex((n) => n.startsWith(name)) + 1, +match[1]];
    } else {
      return null;
    }
    const day = new Date(Date.UTC(y, m - 1, d));
    if (!m || day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return null;
    return day.toISOString().slice(0, 10);
  }

  const CALENDAR_ICON = '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><rect x="1.5" y="3" '
    + 'width="13" height="11.5" rx="1.5" fill="none" stroke="currentColor"/><path d="M1.5 6.5h13M5 1.5v3M11 1.5v3" '
    + 'stroke="currentColor"/></svg>';

  function dateControl(id, meta, end) {
    if (CF.config.mode === "report") {
      const s = document.createElement("select");
      s.id = id;
      s.title = "The offline report filters by whole months";
      monthOptions(meta, end).forEach((o) => s.add(new Option(o.label, o.value)));
      return s;
    }
    const wrap = document.createElement("span");
    wrap.className = "datefield";
    const text = document.createElement("input");
    text.type = "text";
    text.id = id;
    text.className = "day";
    text.autocomplete = "off";
    text.spellcheck = false;
    text.title = `A day, like ${dayLabel(meta.date_min)} (or ${meta.date_min})`;
    text.addEventListener("change", () => { const iso = parseDay(text.value); if (iso) text.value = dayLabel(iso); });
    const picker = document.createElement("input");
    picker.type = "date";
    picker.className = "picker";
    picker.tabIndex = -1;
    picker.setAttribute("aria-hidden", "true");
    picker.min = meta.date_min;
    picker.max = meta.date_max;
    picker.addEventListener("change", (e) => {
      e.stopPropagation(); // the text field's own change follows
      if (!picker.value) return;
      text.value = dayLabel(picker.value);
      text.dispatchEvent(new Event("change", { bubbles: true }));
    });
    const button = document.createElement("button");
    button.type = "button";
    button.className = "cal";
    button.setAttribute("aria-label", `Pick the ${end ? "last" : "first"} day on a calendar`);
    button.innerHTML = CALENDAR_ICON;
    button.addEventListener("click", () => {
      picker.value = parseDay(text.value) || (end ? meta.date_max : meta.date_min);
      try { picker.showPicker(); } catch (err) { picker.focus(); } // a browser without showPicker: the field still takes typing
    });
    wrap.append(text, button, picker);
    return wrap;
  }

  /* The control's day as ISO: null when empty (unbounded), undefined when it cannot be read. */
  function dayOf(id) {
    const el = $(id);
    if (el.tagName === "SELECT") return el.value || null;
    const iso = parseDay(el.value);
    const bad = el.value.trim() !== "" && !iso;
    el.setAttribute("aria-invalid", String(bad));
    el.setCustomValidity(bad ? `Type a day like ${dayLabel(state.meta.date_min)}` : "");
    return bad ? undefined : iso;
  }

  function buildFilters(meta) {
    const from = dateControl("f-from", meta, false), to = dateControl("f-to", meta, true);
    $("f-from-slot").replaceWith(from);
    $("f-to-slot").replaceWith(to);
    const list = $("f-country-list");
    meta.countries.forEach((c) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = c;
      label.append(box, document.createTextNode(" " + c));
      list.appendChild(label);
    });
    const menu = $("f-country-menu"), btn = $("f-country-btn");
    btn.addEventListener("click", () => { menu.hidden = !menu.hidden; btn.setAttribute("aria-expanded", String(!menu.hidden)); });
    document.addEventListener("click", (e) => {
      if (!menu.hidden && !e.target.closest(".countries")) { menu.hidden = true; btn.setAttribute("aria-expanded", "false"); }
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !menu.hidden) { menu.hidden = true; btn.setAttribute("aria-expanded", "false"); btn.focus(); }
    });
    $("f-country-search").addEventListener("input", (e) => {
      const q = e.target.value.toLowerCase();
      list.querySelectorAll("label").forEach((l) => { l.hidden = !l.textContent.toLowerCase().includes(q); });
    });
    list.addEventListener("change", () => applyFromControls());
    $("f-country-all").addEventListener("click", () => {
      list.querySelectorAll("input").forEach((b) => { b.checked = false; });
      applyFromControls();
    });
    from.addEventListener("change", applyFromControls);
    to.addEventListener("change", applyFromControls);
    $("f-reset").addEventListener("click", () => { setControls({ from: null, to: null, countries: [] }); applyFromControls(); });
    $("filters").hidden = false;
  }

  function setControls(f) {
    const meta = state.meta;
    const from = $("f-from"), to = $("f-to");
    if (CF.config.mode === "report") {
      from.value = f.from ? f.from.slice(0, 7) + "-01" : from.options[0].value;
      to.value = f.to ? monthOptions(meta, true).find((o) => o.value.slice(0, 7) === f.to.slice(0, 7))?.value
        || to.options[to.options.length - 1].value : to.options[to.options.length - 1].value;
    } else {
      from.value = dayLabel(f.from || meta.date_min);
      to.value = dayLabel(f.to || meta.date_max);
      [from, to].forEach((el) => { el.setAttribute("aria-invalid", "false"); el.setCustomValidity(""); });
    }
    $("f-country-list").querySelectorAll("input").forEach((b) => { b.checked = f.countries.includes(b.value); });
    countryButton(f.countries);
  }

  function countryButton(countries) {
    $("f-country-btn").textContent = !countries.length ? "All countries"
      : countries.length === 1 ? countries[0] : `${countries.length} countries`;
  }

  function applyFromControls() {
    const meta = state.meta;
    let from = dayOf("f-from"), to = dayOf("f-to");
    if (from === undefined || to === undefined) {
      const status = $("status");
      status.className = "status invalid";
      status.textContent = `Type a day like ${dayLabel(meta.date_min)}; the charts still show ${describe(state.filter)}`;
      return;
    }
    if (from && to && from > to) [from, to] = [to, from];
    const report = CF.config.mode === "report";
    const lastTo = report ? monthOptions(meta, true).slice(-1)[0].value : meta.date_max;
    const firstFrom = report ? monthOptions(meta, false)[0].value : meta.date_min;
    const countries = [...$("f-country-list").querySelectorAll("input:checked")].map((b) => b.value);
    const f = { from: from && from !== firstFrom ? from : null, to: to && to !== lastTo ? to : null, countries };
    countryButton(countries);
    load(f);
  }

  /* ---------- loading ---------- */
  async function load(f) {
    state.filter = f;
    writeUrl(f);
    const seq = ++state.seq;
    const status = $("status");
    status.className = "status busy";
    status.textContent = "Loading…";
    document.body.dataset.state = "loading";
    try {
      const started = performance.now();
      const data = await source.data(f);
      if (seq !== state.seq) return; // a newer filter won
      state.data = data;
      CF.render(data, state);
      status.className = "status";
      const secs = data.seconds !== undefined ? data.seconds : (performance.now() - started) / 1000;
      status.textContent = `${describe(f)} · computed in ${secs.toFixed(2)} s`;
      document.body.dataset.state = "ready";
    } catch (err) {
      if (seq !== state.seq) return;
      fail(err);
    }
  }

  function describe(f) {
    const m = state.meta;
    const range = `${dayLabel(f.from || m.date_min)} – ${dayLabel(f.to || m.date_max)}`;
    return `${range} · ${f.countries.length ? f.countries.join(", ") : "all countries"}`;
  }

  function fail(err) {
    $("content").hidden = true;
    $("failed").hidden = false;
    $("failed-msg").textContent = String(err.message || err);
    $("status").className = "status";
    $("status").textContent = "";
    document.body.dataset.state = "error";
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => state.data && CF.render(state.data, state), 150);
  });

  /* ---------- start ---------- */
  async function main() {
    CF.config = JSON.parse($("cf-config").textContent);
    source = CF.config.mode === "report" ? CF.reportSource(CF.config) : liveSource(CF.config);
    try {
      const meta = await source.meta();
      state.meta = meta;
      if (meta.currency) fmt.currency = meta.currency;
      if (meta.empty) {
        if (CF.config.mode === "report") {
          $("empty").querySelector("p").textContent = "This report was written before any pipeline run published "
            + "the marts. Run `cartflow run`, then `cartflow report` again.";
        }
        $("empty").hidden = false;
        document.body.dataset.state = "empty";
        return;
      }
      $("content").hidden = false;
      $("foot").textContent = `Read from the published marts${meta.published_at ? " of " + meta.published_at.replace("T", " ").slice(0, 19) + " UTC" : ""}`
        + ` · ${fmt.num(meta.order_lines)} order lines, ${dayLabel(meta.date_min)} – ${dayLabel(meta.date_max)}`
        + (CF.config.mode === "report" ? ` · offline report generated ${CF.config.generated_at}` : "");
      buildFilters(meta);
      const f = CF.config.mode === "live" ? readUrl() : { from: null, to: null, countries: [] };
      f.countries = f.countries.filter((c) => meta.countries.includes(c));
      setControls(f);
      await load(f);
    } catch (err) {
      fail(err);
    }
  }

  CF.dashboard = { state, load };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
