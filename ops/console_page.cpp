#include "ops/console_page.h"

namespace outpost::ops {
namespace {

// Element ids are the console's contract with its browser test (tests/ops/console_test.py):
// #status, #summary, #tenants, #devices (rows: tr[data-device]), #page, #rejections, #scopes.
constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>outpost fleet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 16px;display:flex;gap:16px;align-items:center}
header h1{font-size:16px;margin:0}
#status{padding:2px 8px;border-radius:10px;background:#777}
#status.live{background:#2a8a3e}#status.down{background:#b3261e}
main{padding:12px 16px;display:grid;gap:12px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:8px 12px}
h2{font-size:14px;margin:4px 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f3;white-space:nowrap}
th{font-weight:600;color:#556}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.yes{color:#2a8a3e;font-weight:600}.no{color:#999}.warn{color:#b3261e;font-weight:600}
#summary span{margin-right:18px}
.pager button{margin-right:6px}
</style></head>
<body>
<header><h1>outpost fleet</h1><span id="status">connecting</span><span id="summary"></span></header>
<main>
<section><h2>Tenants</h2><table><thead><tr><th>tenant</th><th>devices</th><th>live</th>
<th>behind</th><th>outbox</th><th>rejected</th></tr></thead><tbody id="tenants"></tbody></table></section>
<section><h2>Devices</h2>
<div class="pager"><button id="prev">&larr; prev</button><button id="next">next &rarr;</button>
<label><input type="checkbox" id="behind"> behind only</label>
<label>tenant <input id="tenant" size="10"></label> <span id="page"></span></div>
<table><thead><tr><th>tenant</th><th>user</th><th>device</th><th>live</th><th>last seen</th>
<th>lag (changes)</th><th>lag (s)</th><th>outbox</th><th>app version</th><th>last sync</th>
<th>pushes</th><th>pulls</th><th>rejected</th></tr></thead><tbody id="devices"></tbody></table></section>
<section><h2>Rejected mutations</h2><table><thead><tr><th>when</th><th>tenant</th><th>user</th>
<th>device</th><th>mutation</th><th>code</th><th>reason</th></tr></thead>
<tbody id="rejections"></tbody></table></section>
<section><h2>Scopes</h2><table><thead><tr><th>scope</th><th>log head</th><th>compaction horizon</th>
<th>head moved</th><th>compacted</th></tr></thead><tbody id="scopes"></tbody></table></section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const pageSize = 100;
let offset = 0, lastVersion = -1, events = 0, busy = false;
function api(path) {
  const sep = path.includes("?") ? "&" : "?";
  return fetch(path + (token ? sep + "token=" + encodeURIComponent(token) : ""))
      .then(r => { if (!r.ok) throw new Error(path + ": " + r.status); return r.json(); });
}
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago"
                                           : Math.round(s / 3600) + " h ago";
}
function fill(id, rows, make) {
  const body = document.getElementById(id);
  const fresh = document.createDocumentFragment();
  rows.forEach(row => fresh.appendChild(make(row)));
  body.replaceChildren(fresh);
}
function row(cells, attrs) {
  const tr = document.createElement("tr");
  cells.forEach(c => tr.appendChild(c));
  for (const k in attrs || {}) tr.dataset[k] = attrs[k];
  return tr;
}
function showSummary(s) {
  document.getElementById("summary").innerHTML = "";
  const parts = [["devices", s.devices], ["live", s.live], ["behind", s.behind],
                 ["scopes", s.scopes], ["rejections", s.rejections],
                 ["ready", s.ready ? "yes" : "no (" + s.not_ready + ")"]];
  for (const [k, v] of parts) {
    const span = document.createElement("span");
    span.id = "summary-" + k;
    span.textContent = k + ": " + v;
    document.getElementById("summary").appendChild(span);
  }
}
function refresh() {
  if (busy) return Promise.resolve();
  busy = true;
  const tenant = document.getElementById("tenant").value.trim();
  const behind = document.getElementById("behind").checked ? "&behind=1" : "";
  const q = "/api/devices?offset=" + offset + "&limit=" + pageSize + behind +
            (tenant ? "&tenant=" + encodeURIComponent(tenant) : "");
  return Promise.all([api("/api/summary"), api("/api/tenants"), api(q),
                      api("/api/rejections?limit=50"), api("/api/scopes?limit=100")])
    .then(([summary, tenants, devices, rejections, scopes]) => {
      showSummary(summary);
      fill("tenants", tenants, t => row([cell(t.tenant), cell(t.devices, "num"),
          cell(t.live, "num"), cell(t.behind, "num"), cell(t.outbox, "num"),
          cell(t.rejected, "num")], {tenant: t.tenant}));
      fill("devices", devices.rows, d => row([cell(d.tenant), cell(d.user), cell(d.device),
          cell(d.live ? "live" : "offline", d.live ? "yes" : "no"), cell(ago(d.last_seen_ms)),
          cell(d.lag_changes, d.lag_changes > 0 ? "num warn" : "num"),
          cell((d.lag_ms / 1000).toFixed(1), "num"),
          cell(d.reported ? d.outbox_depth : "-", "num"), cell(d.app_version || "-"),
          cell(ago(d.last_sync_ms)), cell(d.pushes, "num"),
          cell(d.pulls, "num"), cell(d.rejected, "num")],
          {device: d.tenant + "/" + d.user + "/" + d.device, lag: d.lag_changes,
           outbox: d.outbox_depth, live: d.live}));
      const last = Math.min(devices.total, offset + devices.rows.length);
      document.getElementById("page").textContent =
          (devices.total ? offset + 1 : 0) + "\u2013" + last + " of " + devices.total;
      fill("rejections", rejections, r => row([cell(new Date(r.at_ms).toLocaleTimeString()),
          cell(r.tenant), cell(r.user), cell(r.device), cell(r.mutation_id, "num"),
          cell(r.code, "warn"), cell(r.reason)]));
      fill("scopes", scopes.rows, s => row([cell(s.scope), cell(s.head_seq, "num"),
          cell(s.horizon_seq, "num"), cell(ago(s.head_moved_ms)),
          cell(s.compacted_ms ? ago(s.compacted_ms) : "-")], {scope: s.scope}));
      document.body.dataset.refreshed = (+(document.body.dataset.refreshed || 0) + 1);
      if (!document.body.dataset.firstPaintMs)
        document.body.dataset.firstPaintMs = Math.round(performance.now());
    })
    .catch(e => { document.getElementById("status").textContent = String(e); })
    .finally(() => { busy = false; });
}
function follow() {
  const source = new EventSource("/api/events" + (token ? "?token=" + encodeURIComponent(token) : ""));
  const status = document.getElementById("status");
  source.onopen = () => { status.textContent = "live"; status.className = "live"; };
  source.onerror = () => { status.textContent = "reconnecting"; status.className = "down"; };
  source.onmessage = m => {
    const s = JSON.parse(m.data);
    showSummary(s);
    if (s.version !== lastVersion || ++events % 5 === 0) { lastVersion = s.version; refresh(); }
  };
}
document.getElementById("prev").onclick = () => { offset = Math.max(0, offset - pageSize); refresh(); };
document.getElementById("next").onclick = () => { offset += pageSize; refresh(); };
document.getElementById("behind").onchange = () => { offset = 0; refresh(); };
document.getElementById("tenant").onchange = () => { offset = 0; refresh(); };
refresh().then(follow);
</script>
</body></html>
)HTML";

}  // namespace

std::string_view console_page() {
  return kPage;
}

}  // namespace outpost::ops
