// WebSocket URLs and what to say when a connection fails or drops.
import { apiKey, keyHeaders } from "./key.js";

export function wsUrl(path, params = {}) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
  const key = apiKey();
  if (key) url.searchParams.set("api_key", key);
  return url.toString();
}

// A browser sees only a bare close (1006) when a gateway refuses a WebSocket upgrade, so ask the gateway,
// in its own words, why: the status route is guarded exactly like the protocols' routes.
// Returns {refused: bool, message} ; refused means retrying with the same key will not help.
export async function explainRefusal() {
  try {
    const response = await fetch("/console/api/status", {
      headers: keyHeaders(),
      cache: "no-store",
      signal: AbortSignal.timeout(5000),
    });
    if (response.ok) return { refused: false, message: "the connection failed" };
    const body = await response.json().catch(() => ({}));
    const message = body.error || `HTTP ${response.status}`;
    return { refused: response.status === 401 || response.status === 403, message };
  } catch {
    return { refused: false, message: "the gateway is unreachable" };
  }
}

export function closeText(event) {
  return `closed ${event.code}${event.reason ? `: ${event.reason}` : ""}`;
}

// A socket that reopens itself with backoff after it drops (a gateway drained or died: nginx sends the
// next connection to a live one). It stops when the gateway refuses the key, until the key changes.
export class ReconnectingSocket {
  constructor(name, makeUrl, { onOpen, onMessage, onState, onNote }) {
    this.name = name;
    this.makeUrl = makeUrl;
    this.handlers = { onOpen, onMessage, onState, onNote };
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.everOpened = false;
  }

  connect() {
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
    }
    const ws = new WebSocket(this.makeUrl());
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.handlers.onState("connected", "connected");
      if (this.everOpened) this.handlers.onNote(`${this.name}: reconnected`);
      this.everOpened = true;
      this.handlers.onOpen();
    };
    ws.onmessage = (event) => this.handlers.onMessage(event.data);
    ws.onclose = async (event) => {
      if (this.ws !== ws) return;
      const explained = opened ? { refused: false, message: closeText(event) } : await explainRefusal();
      const why = explained.message;
      const refused = explained.refused;
      if (this.ws !== ws) return;
      if (refused) {
        this.handlers.onState("refused", `refused: ${why}`);
        this.handlers.onNote(`${this.name}: refused: ${why}`);
        return; // a new key (keychange) tries again
      }
      const delay = Math.min(5000, 500 * 2 ** this.attempt++);
      this.handlers.onState("lost", `connection lost (${why}); reconnecting`);
      this.handlers.onNote(`${this.name}: connection lost (${why}); reconnecting in ${delay / 1000} s`);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  send(data) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(data);
    return true;
  }
}
