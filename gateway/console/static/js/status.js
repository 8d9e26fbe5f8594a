// The status strip's live figures: each gateway's own counters (/console/api/status), polled through
// nginx. Rates and p95s come from the difference between two samples of one gateway, summed over the
// gateways heard from recently: nginx sends each poll to the gateway with the fewest open connections,
// so these are the figures of the gateways the polls reach (Prometheus and Grafana show every one).
import { keyHeaders } from "./key.js";

const POLL_MS = 2000;
const FRESH_MS = 15000;
const NAMES = {
  redaction: "Redact",
  asr: "Transcribe (stream opens)",
  voice: "Voice (stream opens)",
  voice_requests: "Voice (REST, checks)",
  kb: "Ask (answers)",
};

const gateways = new Map(); // id -> {at, sample, rates: {capability: {rate, bounds, buckets}}}

export function setupStatus() {
  poll();
  window.addEventListener("keychange", poll);
}

let timer = null;
let inFlight = false;
async function poll() {
  if (inFlight) return; // a key change during a poll: the next poll uses the new key
  inFlight = true;
  clearTimeout(timer);
  const error = document.getElementById("status-error");
  try {
    const response = await fetch("/console/api/status", {
      headers: keyHeaders(),
      cache: "no-store",
      signal: AbortSignal.timeout(5000),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    error.textContent = "";
    record(body, performance.now());
    render();
  } catch (err) {
    error.textContent = `Figures unavailable: ${err.name === "TypeError" ? "the gateway is unreachable" : err.message}`;
  }
  inFlight = false;
  timer = setTimeout(poll, POLL_MS);
}

function record(sample, at) {
  const previous = gateways.get(sample.gateway);
  const rates = {};
  if (previous) {
    const seconds = (at - previous.at) / 1000;
    for (const [capability, now] of Object.entries(sample.requests)) {
      let before = previous.sample.requests[capability] || { count: 0, cumulative: [] };
      if (now.count < before.count) before = { count: 0, cumulative: [] }; // the gateway restarted
      const buckets = now.cumulative.map((n, i) => n - (before.cumulative[i] || 0));
      rates[capability] = { rate: (now.count - before.count) / seconds, bounds: now.bounds, buckets };
    }
  }
  gateways.set(sample.gateway, { at, sample, rates });
}

// The upper bound of the bucket that holds the 95th percentile (Prometheus' buckets are cumulative).
function p95(bounds, buckets) {
  const total = buckets[buckets.length - 1] || 0;
  if (!total) return null;
  const index = buckets.findIndex((n) => n >= 0.95 * total);
  return index < bounds.length ? bounds[index] : Infinity;
}

function render() {
  const now = performance.now();
  const fresh = [...gateways.entries()].filter(([, g]) => now - g.at < FRESH_MS);
  document.getElementById("figures-from").textContent = fresh.map(([id]) => id).sort().join(", ") || "(none)";
  const totals = {};
  for (const [, g] of fresh) {
    for (const capability of Object.keys(g.sample.requests)) totals[capability] ??= { rate: null, bounds: [], buckets: [] };
    for (const [capability, r] of Object.entries(g.rates)) {
      const t = totals[capability];
      t.rate ??= 0;
      t.rate += r.rate;
      if (r.bounds.length > t.bounds.length) t.bounds = r.bounds;
      r.buckets.forEach((n, i) => (t.buckets[i] = (t.buckets[i] || 0) + n));
    }
  }
  const order = (c) => (c in NAMES ? Object.keys(NAMES).indexOf(c) : 99);
  const rows = Object.keys(totals).sort((a, b) => order(a) - order(b)).map((capability) => {
    const t = totals[capability];
    const q = t.bounds.length ? p95(t.bounds, t.buckets) : null;
    const row = document.createElement("tr");
    row.dataset.capability = capability;
    row.dataset.rate = String(t.rate ?? 0);
    const cells = [
      NAMES[capability] || capability,
      t.rate === null ? "–" : t.rate.toFixed(1),
      q === null ? "–" : q === Infinity ? `> ${t.bounds[t.bounds.length - 1]} s` : `≤ ${formatSeconds(q)}`,
    ];
    for (const [i, text] of cells.entries()) {
      const cell = document.createElement(i ? "td" : "th");
      if (!i) cell.scope = "row";
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  });
  document.querySelector("#figures tbody").replaceChildren(...rows);
}

function formatSeconds(s) {
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s} s`;
}
