// taxi-stream dashboard: renders what /api/updates pushes. Everything that comes from the
// store (vendors, messages, raw bytes) goes into the page as text (textContent), never markup.
"use strict";

const $ = (id) => document.getElementById(id);
const nf = (digits) => new Intl.NumberFormat("en-US", {
  minimumFractionDigits: digits, maximumFractionDigits: digits });
const int = nf(0), one = nf(1), two = nf(2);

// Units: the API gives miles, seconds and cents; the page shows them with their unit.
const fmt = {
  count: (v) => int.format(v),
  miles: (v) => `${one.format(v)} mi`,
  avgMiles: (v) => (v === null ? "-" : `${two.format(v)} mi`),
  hours: (v) => `${one.format(v / 3600)} h`,
  avgMinutes: (v) => (v === null ? "-" : `${one.format(v / 60)} min`),
  dollars: (v) => `$${two.format(v / 100)}`,
  avgDollars: (v) => (v === null ? "-" : `$${two.format(v / 100)}`),
  rate: (v) => (v === null || v === undefined ? "-" : `${int.format(v)}/s`),
  final: (v) => (v ? "final" : "open"),
};

// Columns of a window's totals: known keys first; a numeric key the page does not know (a
// total added later) gets a column of its own, named by its key.
const TOTALS = [
  { key: "tripCount", label: "trips", format: fmt.count },
  { key: "totalDistanceMiles", label: "distance", format: fmt.miles },
  { key: "totalDurationSeconds", label: "duration", format: fmt.hours },
  { key: "passengerCount", label: "passengers", format: fmt.count },
  { key: "totalFare", label: "fares", format: fmt.dollars, optional: true, money: true },
  { key: "totalTip", label: "tips", format: fmt.dollars, optional: true, money: true },
  { key: "totalAmount", label: "total amount", format: fmt.dollars, optional: true, money: true },
  { key: "lateTrips", label: "late trips", format: fmt.count, optional: true },
];
const NOT_TOTALS = new Set(["vendorId", "windowStart", "windowEnd", "windowStartMs",
  "avgDistanceMiles", "avgDurationSeconds", "contributions", "clock", "updatedAt", "final"]);

const state = { vendors: new Set(), charts: new Map(), source: null, windowS: 60 };

function cell(tag, text, cls) {
  const el = document.createElement(tag);
  el.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) el.className = cls;
  return el;
}

function numCell(value, format, key) {
  const td = cell("td", format(value), "num");
  if (key) td.dataset.key = key;
  td.dataset.value = value === null ? "" : String(value);
  return td;
}

function header(table, labels) {
  const tr = document.createElement("tr");
  labels.forEach((label) => tr.appendChild(cell("th", label)));
  table.tHead.replaceChildren(tr);
}

// Whether any row shown carries money. A source without fares (the Kaggle files) stores 0
// cents for every trip: its money columns are left out rather than shown as $0.00 of data.
function hasMoney(rows) {
  return rows.some((r) => TOTALS.some((c) => c.money && r[c.key]));
}

function columns(rows) {
  const money = hasMoney(rows);
  const present = TOTALS.filter((c) => (!c.optional || rows.some((r) => c.key in r))
    && (!c.money || money));
  const known = new Set(TOTALS.map((c) => c.key));
  const extra = new Set();
  rows.forEach((r) => Object.keys(r).forEach((k) => {
    if (!known.has(k) && !NOT_TOTALS.has(k) && typeof r[k] === "number") extra.add(k);
  }));
  return present.concat([...extra].sort().map((k) => ({ key: k, label: k, format: fmt.count })));
}

function renderVendors(rows, cols) {
  const per = new Map();
  rows.forEach((r) => {
    const sums = per.get(r.vendorId) || { windows: 0 };
    sums.windows += 1;
    cols.forEach((c) => { sums[c.key] = (sums[c.key] || 0) + (r[c.key] || 0); });
    per.set(r.vendorId, sums);
  });
  const table = $("vendors");
  const fares = cols.some((c) => c.key === "totalFare");
  header(table, ["vendor", "windows", ...cols.map((c) => c.label), "avg distance", "avg duration",
    ...(fares ? ["avg fare"] : [])]);
  const body = [...per.keys()].sort().map((vendor) => {
    const s = per.get(vendor);
    const tr = document.createElement("tr");
    tr.dataset.vendor = vendor;
    tr.appendChild(cell("td", vendor));
    tr.appendChild(numCell(s.windows, fmt.count, "windows"));
    cols.forEach((c) => tr.appendChild(numCell(s[c.key], c.format, c.key)));
    const trips = s.tripCount || 0;
    tr.appendChild(numCell(trips ? s.totalDistanceMiles / trips : null, fmt.avgMiles));
    tr.appendChild(numCell(trips ? s.totalDurationSeconds / trips : null, fmt.avgMinutes));
    if (fares) tr.appendChild(numCell(trips ? s.totalFare / trips : null, fmt.avgDollars));
    return tr;
  });
  table.tBodies[0].replaceChildren(...body);
}

function renderWindows(rows, cols) {
  const hasFinal = rows.some((r) => "final" in r);
  const table = $("windows");
  const fares = cols.some((c) => c.key === "totalFare");
  header(table, ["window (UTC)", "vendor", ...cols.map((c) => c.label), "avg distance",
    "avg duration", ...(fares ? ["avg fare"] : []), ...(hasFinal ? ["status"] : [])]);
  const newest = [...rows].sort((a, b) => b.windowStartMs - a.windowStartMs
    || String(a.vendorId).localeCompare(String(b.vendorId))).slice(0, 60);
  table.tBodies[0].replaceChildren(...newest.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.windowStart = String(r.windowStartMs);
    tr.appendChild(cell("td", r.windowStart.replace("T", " ").replace("Z", "")));
    tr.appendChild(cell("td", r.vendorId));
    cols.forEach((c) => tr.appendChild(numCell(r[c.key], c.format, c.key)));
    tr.appendChild(numCell(r.avgDistanceMiles, fmt.avgMiles));
    tr.appendChild(numCell(r.avgDurationSeconds, fmt.avgMinutes));
    if (fares) {
      tr.appendChild(numCell(r.tripCount ? r.totalFare / r.tripCount : null, fmt.avgDollars));
    }
    if (hasFinal) tr.appendChild(cell("td", fmt.final(r.final)));
    return tr;
  }));
}

// What each chart plots, in which unit (the API gives seconds and cents).
const CHARTS = {
  tripCount: { title: "trips per window", scale: 1 },
  totalDistanceMiles: { title: "distance per window (mi)", scale: 1 },
  totalDurationSeconds: { title: "duration per window (h)", scale: 1 / 3600 },
  totalFare: { title: "fares per window ($)", scale: 1 / 100 },
  lateTrips: { title: "late trips per window", scale: 1 },
};

function chartData(rows, key, vendors) {
  const scale = CHARTS[key].scale;
  const starts = [...new Set(rows.map((r) => r.windowStartMs))].sort((a, b) => a - b);
  const index = new Map(starts.map((s, i) => [s, i]));
  const series = vendors.map(() => starts.map(() => null));
  rows.forEach((r) => {
    series[vendors.indexOf(r.vendorId)][index.get(r.windowStartMs)] = r[key] * scale;
  });
  return [starts.map((s) => s / 1000), ...series];
}

// Tick labels with the fewest decimals that give every tick exactly (0.2 h shows as 0.2, not
// 0): so no two ticks of an axis read the same.
function tickLabels(ticks) {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0] || 1);
  const tolerance = (step || 1) * 1e-6;
  let digits = 0;
  while (digits < 10 && !ticks.every((t) => Math.abs(Number(t.toFixed(digits)) - t) <= tolerance)) {
    digits += 1;
  }
  const format = nf(digits);
  return ticks.map((t) => format.format(t));
}

// Time tick labels in UTC, as precise as the ticks' step needs (seconds, or milliseconds, only
// when ticks fall between minutes), the date under the first tick and wherever the day turns:
// no two ticks read the same.
function timeLabels(ticks) {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 60;
  const iso = (t) => new Date(Math.round(t * 1000)).toISOString();
  if (step >= 86400 && step % 86400 === 0) return ticks.map((t) => iso(t).slice(0, 10));
  const end = step % 1 ? 23 : (step % 60 ? 19 : 16);
  return ticks.map((t, i) => {
    const day = iso(t).slice(0, 10), time = iso(t).slice(11, end);
    return i === 0 || day !== iso(ticks[i - 1]).slice(0, 10) ? `${time}\n${day}` : time;
  });
}

// The time axis, in seconds, from the window starts plotted (uPlot widens a one-point domain
// to 1,000 days before asking). Windows that all start at one instant (a single window) span
// no time: they get one window either side instead.
function timeRange(u, min, max) {
  const starts = u.data[0] || [];
  if (!starts.length) return [min, max];
  const first = starts[0], last = starts[starts.length - 1];
  return last > first ? [first, last] : [first - state.windowS, last + state.windowS];
}

// How long a window lasts, in seconds, read off a row (60 when no row says).
function windowSeconds(rows) {
  const row = rows.find((r) => r.windowEnd && Number.isFinite(Date.parse(r.windowEnd)));
  const size = row ? (Date.parse(row.windowEnd) - row.windowStartMs) / 1000 : 0;
  return size > 0 ? size : 60;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

function renderCharts(rows, cols) {
  const vendors = [...new Set(rows.map((r) => r.vendorId))].sort();
  const wanted = cols.filter((c) => c.key in CHARTS);
  const box = $("charts");
  const shape = vendors.join("\u0000") + "|" + wanted.map((c) => c.key).join(",");
  if (state.shape !== shape || typeof uPlot === "undefined") {
    state.charts.forEach((chart) => chart.destroy());
    state.charts.clear();
    box.replaceChildren();
    state.shape = shape;
  }
  if (typeof uPlot === "undefined" || !rows.length) return;
  state.windowS = windowSeconds(rows);
  wanted.forEach((c) => {
    const data = chartData(rows, c.key, vendors);
    let chart = state.charts.get(c.key);
    if (chart) { chart.setData(data); return; }
    const holder = document.createElement("div");
    holder.className = "chart";
    holder.appendChild(cell("h3", CHARTS[c.key].title));
    box.appendChild(holder);
    chart = new uPlot({
      width: 420, height: 180,
      series: [{}, ...vendors.map((v, i) => ({
        label: `vendor ${v}`, stroke: COLORS[i % COLORS.length], width: 1.5,
        value: (u, value) => (value === null ? "-" : c.format(value / CHARTS[c.key].scale)),
      }))],
      axes: [{ values: (u, ticks) => timeLabels(ticks) },
        { size: 70, values: (u, ticks) => tickLabels(ticks) }],
      scales: { x: { time: true, range: timeRange } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),  // windows are in UTC
    }, data, holder);
    state.charts.set(c.key, chart);
  });
}

function card(label, value) {
  const div = document.createElement("div");
  div.className = "card";
  div.appendChild(cell("div", value, "value"));
  div.appendChild(cell("div", label, "label"));
  return div;
}

function renderHealth(h) {
  $("health-source").textContent = h.source === "pipeline"
    ? "(from the runner beside this dashboard)" : "(from the stores: checkpoints against the stream)";
  const rates = h.rates || {};
  const cards = [
    card("records in (into the stream)", fmt.rate(rates.inPerSecond)),
    card("records out (counted or dead-lettered)", fmt.rate(rates.outPerSecond)),
    card("trips in windows", fmt.count(h.counted)),
    card("dead letters", fmt.count(h.deadLetters.total)),
    card("retries in flight", h.retries === null ? "-" : fmt.count(h.retries)),
  ];
  if (h.produced !== null && h.produced !== undefined) {
    const label = h.source === "pipeline" ? "records produced by this run" : "records in the stream";
    cards.splice(2, 0, card(label, fmt.count(h.produced)));
  }
  $("health-summary").replaceChildren(...cards);
  const error = $("health-error");
  error.hidden = !h.error;
  error.textContent = h.error || "";
  $("stuck").replaceChildren(...(h.stuck || []).map((s) =>
    cell("p", `${s.shard} is ${s.lastError ? "failing: " + s.lastError : "stuck"}`, "warn")));
  renderShards(h.shards || [], h.source === "pipeline");
  renderReasons(h.deadLetters);
  renderLetters(h.latestDeadLetters || []);
}

function renderShards(shards, live) {
  const table = $("shards");
  const cols = live
    ? ["shard", "position", "iterator age", "behind", "invocations", "records", "failures",
      "retries", "status", "last error"]
    : ["shard", "checkpoint", "behind", "records waiting", "window", "status"];
  header(table, cols);
  table.tBodies[0].replaceChildren(...shards.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.shard = s.shardId;
    if (s.stuck || s.consecutiveFailures) tr.className = "stuck";
    tr.appendChild(cell("td", s.shard));
    tr.appendChild(cell("td", s.positionLabel));
    if (live) {
      tr.appendChild(cell("td", s.iteratorAge, "num"));
      tr.appendChild(cell("td", s.behind, "num"));
      ["invocations", "records", "failures", "retries"].forEach((k) =>
        tr.appendChild(numCell(s[k], fmt.count, k)));
      tr.appendChild(cell("td", s.stuck ? "stuck" : (s.consecutiveFailures ? "retrying" : "ok")));
      tr.appendChild(cell("td", s.lastError || ""));
    } else {
      tr.appendChild(cell("td", s.behind, "num"));
      tr.appendChild(cell("td", s.waiting ? "yes" : "no"));
      tr.appendChild(cell("td", s.windowOpen ? "open" : "-"));
      tr.appendChild(cell("td", s.ended ? "ended" : "open"));
    }
    return tr;
  }));
}

function renderReasons(letters) {
  const rows = Object.entries(letters.byReason).map(([reason, n]) => {
    const tr = document.createElement("tr");
    tr.dataset.reason = reason;
    tr.appendChild(cell("td", reason));
    tr.appendChild(numCell(n, fmt.count, "count"));
    return tr;
  });
  $("reasons").tBodies[0].replaceChildren(...rows);
  // Every store counts every letter by reason; the two counts are read a moment apart, so a
  // letter stored in between can make them differ: then the page says so, not a wrong total.
  $("reasons-note").textContent = letters.scanned !== letters.total
    ? `reasons counted over ${int.format(letters.scanned)} letters (read apart from the total)` : "";
}

function renderLetters(letters) {
  $("letters").replaceChildren(...letters.map((d) => {
    const div = document.createElement("div");
    div.className = "letter";
    const where = `${d.reason} · ${d.shard} ${d.sequence} · ${d.size}` +
      (d.arrival ? ` · ${d.arrival}` : "");
    div.appendChild(cell("div", where, "muted"));
    div.appendChild(cell("div", d.messageTruncated ? `${d.message}…` : d.message));
    div.appendChild(cell("pre", d.raw, "raw"));
    if (d.rawTruncated) {  // health carries the first bytes; /api/dead-letters has them all
      const shown = int.format(atob(d.rawBase64).length);
      div.appendChild(cell("div", `the first ${shown} of ${int.format(d.rawBytes)} bytes;` +
        " all of them: /api/dead-letters or query --dead-letters", "muted cut"));
    }
    return div;
  }));
}

function render(update) {
  if (update.error) {
    $("status").textContent = `store unavailable: ${update.error}`;
    $("status").className = "status down";
    return;
  }
  const payload = update.windows;
  const rows = payload.windows;
  rows.forEach((r) => state.vendors.add(String(r.vendorId)));
  syncVendorOptions();
  const cols = columns(rows);
  $("money-note").textContent = rows.length && !hasMoney(rows)
    ? "no fare, tip or amount in these trips (a source without fares, such as the Kaggle"
      + " files): those columns are left out" : "";
  renderVendors(rows, cols);
  renderWindows(rows, cols);
  renderCharts(rows, cols);
  const truncated = $("truncated");
  truncated.hidden = !payload.truncated;
  truncated.textContent = `only the first ${int.format(payload.limit)} rows are shown`;
  renderHealth(update.health);
  $("status").textContent = "live";
  $("status").className = "status live";
  $("updated").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

function syncVendorOptions() {
  const select = $("vendor");
  const have = new Set([...select.options].map((o) => o.value));
  [...state.vendors].sort().forEach((v) => {
    if (!have.has(v)) select.appendChild(new Option(`vendor ${v}`, v));
  });
}

function params() {
  const q = new URLSearchParams();
  const latest = $("latest").value, vendor = $("vendor").value;
  if (latest) q.set("latest", latest);
  if (vendor) q.set("vendor", vendor);
  [["since", $("since").value], ["until", $("until").value]].forEach(([k, v]) => {
    if (v) q.set(k, v.length === 16 ? `${v}:00Z` : `${v}Z`);
  });
  return q;
}

let source = null;
function connect() {
  if (source) source.close();
  source = new EventSource(`/api/updates?${params()}`);
  source.addEventListener("update", (event) => render(JSON.parse(event.data)));
  source.onerror = () => {
    $("status").textContent = "reconnecting…";
    $("status").className = "status down";
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); connect(); });
  ["latest", "vendor"].forEach((id) => $(id).addEventListener("change", connect));
  $("reset").addEventListener("click", () => {
    $("filters").reset();
    connect();
  });
  connect();
});
