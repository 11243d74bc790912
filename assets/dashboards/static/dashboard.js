// ComputeFlow dashboards: draws a page's headline figures, charts and tables from the JSON block embedded in it,
// with filters by date range, tenant, provider (and series where a page has them); reference samples' rows are
// left out unless the page's toggle asks for them. Data is text only: DOM nodes get textContent, chart labels are
// entity-escaped before Plotly sees them.
(function () {
  "use strict";
  const spec = JSON.parse(document.getElementById("page-data").textContent);
  const FILTERS = ["tenant", "provider", "series"];
  const state = { from: "", to: "", tenant: "", provider: "", series: "", samples: false };
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const fmt = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });

  // An id with its Chinese name from the reference tables, where the column names ids that have one.
  function label(col, value) {
    const names = spec.names[spec.named_columns[col]] || {};
    const name = names[value];
    return name ? value + " " + name : value;
  }

  function records(name) {
    const ds = spec.datasets[name];
    if (!ds) return [];
    return ds.rows
      .map((r) => Object.fromEntries(ds.columns.map((c, i) => [c, r[i]])))
      .filter((o) => keep(ds, o));
  }

  function keep(ds, o) {
    if (ds.sample && !state.samples && o[ds.sample]) return false;
    if (ds.date) {
      const day = String(o[ds.date]).slice(0, 10);
      if (state.from && day < state.from) return false;
      if (state.to && day > state.to) return false;
    }
    for (const f of FILTERS) {
      if (ds[f] && state[f] && String(o[ds[f]]) !== state[f]) return false;
    }
    return true;
  }

  function where(rows, cond) {
    if (!cond) return rows;
    return rows.filter((o) => Object.entries(cond).every(([k, v]) => o[k] === v));
  }

  // A measure over rows: a sum, a ratio of sums (null over nothing) or a count of distinct values.
  function measure(rows, m) {
    if (m.distinct) return new Set(rows.map((o) => o[m.distinct]).filter((v) => v !== null)).size;
    const sum = (c) => rows.reduce((t, o) => t + (Number(o[c]) || 0), 0);
    if (m.den) {
      const den = sum(m.den);
      return den ? sum(m.num) / den : null;
    }
    return sum(m.col);
  }

  // Group rows by `keys`, summing the other numeric columns; the `top` largest by `sort` are kept and the rest
  // summed into "other" rows (one per value of `otherBy`, or a single one).
  function topGroups(rows, keys, sort, top, otherBy) {
    const add = (groups, base, o) => {
      const id = JSON.stringify(keys.map((k) => base[k]));
      const g = groups.get(id) || { ...base };
      for (const [c, v] of Object.entries(o)) {
        if (!keys.includes(c) && typeof v === "number") g[c] = (g[c] || 0) + v;
      }
      groups.set(id, g);
    };
    const groups = new Map();
    for (const o of rows) add(groups, Object.fromEntries(keys.map((k) => [k, o[k]])), o);
    const sorted = [...groups.values()].sort((a, b) => (b[sort] || 0) - (a[sort] || 0));
    if (!top || sorted.length <= top) return sorted;
    const rest = sorted.slice(top);
    const name = "other (" + rest.length + " flows)";
    const others = new Map();
    for (const g of rest) {
      add(others, Object.fromEntries(keys.map((k) => [k, k === otherBy ? g[k] : k === keys[0] ? name : ""])), g);
    }
    return [...sorted.slice(0, top), ...others.values()];
  }

  // Sum each measure by x (and by series when `by` is set); a measure with num/den is a ratio of sums.
  function aggregate(rows, chart) {
    const groups = new Map();
    for (const o of rows) {
      const split = chart.by ? String(label(chart.by, o[chart.by] ?? "(none)")) : "";
      for (const m of chart.y) {
        const name = chart.by ? (chart.y.length > 1 ? split + " · " + m.label : split) : m.label;
        if (!groups.has(name)) groups.set(name, new Map());
        const g = groups.get(name);
        const x = label(chart.x, o[chart.x]);
        const a = g.get(x) || { num: 0, den: 0 };
        a.num += Number(o[m.num || m.col]) || 0;
        a.den += m.den ? Number(o[m.den]) || 0 : 1;
        g.set(x, a);
      }
    }
    let entries = [...groups.entries()];
    if (chart.top && entries.length > chart.top) {
      // Keep the series with the largest totals (of the denominator for ratios).
      const total = (g) => [...g.values()].reduce((t, a) => t + (chart.y[0].den ? a.den : a.num), 0);
      entries = entries.sort((a, b) => total(b[1]) - total(a[1])).slice(0, chart.top);
    }
    const ratio = Boolean(chart.y[0].den);
    return entries.map(([name, g]) => {
      // A ratio over nothing (no PFLOP-hours, no rows read) is not a point.
      const xs = [...g.keys()].filter((x) => !ratio || g.get(x).den).sort();
      const ys = xs.map((x) => (ratio ? g.get(x).num / g.get(x).den : g.get(x).num));
      return { name: esc(name), x: xs.map(esc), y: ys };
    });
  }

  const LAYOUT = {
    margin: { t: 10, r: 10, b: 40, l: 60 },
    legend: { orientation: "h", y: -0.2 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "system-ui, 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif", size: 12 },
  };

  function traces(chart) {
    const rows = where(records(chart.dataset), chart.where);
    if (chart.kind === "sankey") return sankey(rows, chart);
    if (chart.kind === "band") return band(rows, chart);
    return aggregate(rows, chart).map((t) => {
      if (chart.kind === "bar") return { ...t, type: "bar" };
      if (chart.kind === "hbar") return { name: t.name, x: t.y, y: t.x, type: "bar", orientation: "h" };
      if (chart.kind === "area") return { ...t, type: "scatter", mode: "lines", stackgroup: "one" };
      return { ...t, type: "scatter", mode: "lines+markers" };
    });
  }

  function band(rows, chart) {
    const xs = rows.map((o) => o[chart.x]);
    const col = (c) => rows.map((o) => o[c]);
    const out = [];
    for (const [lo, hi, label, fill] of chart.intervals) {
      out.push({ x: xs, y: col(hi), type: "scatter", mode: "lines", line: { width: 0 }, showlegend: false });
      out.push({ x: xs, y: col(lo), type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: fill, name: esc(label) });
    }
    out.push({ x: xs, y: col(chart.mean), type: "scatter", mode: "lines", name: "forecast", line: { color: "#1f4e79" } });
    if (chart.supply) {
      out.push({ x: xs, y: col(chart.supply), type: "scatter", mode: "lines", name: "supply",
        line: { color: "#b22222", dash: "dash" } });
    }
    if (chart.history) {
      const h = where(records(chart.history.dataset), chart.history.where);
      out.push({ x: h.map((o) => o[chart.history.x]), y: h.map((o) => o[chart.history.y]), type: "scatter",
        mode: "lines", name: "actual", line: { color: "#333" } });
    }
    return out;
  }

  // The largest flows source -> target; the others grouped into one "other" node per target.
  function sankey(rows, chart) {
    const names = [];
    const index = (col, n) => {
      const s = esc(label(col, n ?? "(none)"));
      let i = names.indexOf(s);
      if (i < 0) { names.push(s); i = names.length - 1; }
      return i;
    };
    const link = { source: [], target: [], value: [] };
    for (const o of topGroups(rows, [chart.source, chart.target], chart.value, chart.top, chart.target)) {
      link.source.push(index(chart.source, o[chart.source]));
      link.target.push(index(chart.target, o[chart.target]));
      link.value.push(Number(o[chart.value]) || 0);
    }
    return [{ type: "sankey", node: { label: names, pad: 12 }, link: { ...link, color: "rgba(31,78,121,0.35)" } }];
  }

  function drawChart(chart) {
    const el = document.getElementById(chart.id);
    const data = traces(chart);
    const empty = data.length === 0 || data.every((t) => (t.x || t.link?.value || []).length === 0);
    el.classList.toggle("empty", empty);
    const axis = { title: { text: esc(chart.unit || "") }, automargin: true };
    const layout = { ...LAYOUT, barmode: "stack", xaxis: { automargin: true }, yaxis: { automargin: true } };
    layout[chart.kind === "hbar" ? "xaxis" : "yaxis"] = axis;
    if (chart.categorical) layout.xaxis.type = "category";
    Plotly.react(el, data, layout, { displaylogo: false, responsive: true });
  }

  function drawTable(table) {
    const body = document.querySelector("#" + table.id + " tbody");
    body.replaceChildren();
    let rows = where(records(table.dataset), table.where);
    if (table.group.length) rows = topGroups(rows, table.group, table.sort, table.top, null);
    else if (table.sort) rows.sort((a, b) => (Number(b[table.sort]) || 0) - (Number(a[table.sort]) || 0));
    for (const o of rows.slice(0, table.limit || 200)) {
      const tr = document.createElement("tr");
      for (const c of table.columns) {
        const td = document.createElement("td");
        const v = o[c];
        td.textContent = v === null || v === undefined ? "" : typeof v === "number" ? fmt.format(v) : String(label(c, v));
        if (typeof v === "number") td.className = "num";
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    const count = document.querySelector("#" + table.id + " .shown");
    if (count) count.textContent = Math.min(rows.length, table.limit || 200) + " of " + rows.length + " rows";
  }

  // The options of each filter: the values of the rows shown (samples' only when asked), named where known.
  function fillOptions() {
    for (const f of FILTERS) {
      const select = document.getElementById("filter-" + f);
      if (!select) continue;
      const values = new Set();
      for (const ds of Object.values(spec.datasets)) {
        if (!ds[f]) continue;
        const i = ds.columns.indexOf(ds[f]);
        const s = ds.sample ? ds.columns.indexOf(ds.sample) : -1;
        for (const r of ds.rows) if (r[i] !== null && (state.samples || s < 0 || !r[s])) values.add(String(r[i]));
      }
      const sorted = [...values].sort();
      select.replaceChildren(...[...select.options].filter((o) => o.value === ""));  // "all ..." stays
      for (const v of sorted) {
        const opt = document.createElement("option");
        opt.value = v;
        opt.textContent = label(filterColumn(f), v);
        select.appendChild(opt);
      }
      if (!values.has(state[f])) state[f] = f === "series" ? sorted[0] || "" : "";
      select.value = state[f];
    }
  }

  // The column a filter acts on, as the first dataset that has one names it (for the names of its values).
  function filterColumn(f) {
    return (Object.values(spec.datasets).find((ds) => ds[f]) || {})[f];
  }

  function listen() {
    for (const f of FILTERS) {
      const select = document.getElementById("filter-" + f);
      if (select) select.addEventListener("change", () => { state[f] = select.value; draw(); });
    }
    for (const [id, key] of [["filter-from", "from"], ["filter-to", "to"]]) {
      const input = document.getElementById(id);
      if (input) input.addEventListener("change", () => { state[key] = input.value; draw(); });
    }
    const samples = document.getElementById("filter-samples");
    if (samples) samples.addEventListener("change", () => { state.samples = samples.checked; fillOptions(); draw(); });
  }

  // Each headline figure, computed from its dataset's rows under the filters (data-value: the number itself).
  function drawFigures() {
    for (const f of spec.figures) {
      const el = document.querySelector('[data-figure="' + f.key + '"]');
      const value = spec.datasets[f.dataset] ? measure(records(f.dataset), f.value) : null;
      const number = new Intl.NumberFormat("en", { style: f.percent ? "percent" : "decimal",
        minimumFractionDigits: f.digits, maximumFractionDigits: f.digits });
      el.dataset.value = value === null ? "" : String(value);
      el.querySelector(".value").textContent = value === null ? "n/a" : number.format(value);
    }
  }

  function draw() {
    drawFigures();
    spec.charts.forEach(drawChart);
    spec.tables.forEach(drawTable);
    document.body.dataset.draws = String(Number(document.body.dataset.draws || 0) + 1);
  }

  fillOptions();
  listen();
  draw();
})();
