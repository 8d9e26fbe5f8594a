// Redact: the text box is redacted as you type over /ws (Private AI's protocol: one JSON request per text
// frame, one reply each, in order), with the entities highlighted in the original text.
import { wsUrl, ReconnectingSocket } from "./conn.js";
import { note, showState } from "./events.js";

// Toggles group the vendor's entity types; an unticked group is sent as a DISABLE list.
const GROUPS = {
  names: ["NAME", "NAME_GIVEN", "NAME_FAMILY"],
  places: ["LOCATION", "LOCATION_ADDRESS", "LOCATION_CITY", "LOCATION_STATE", "LOCATION_COUNTRY", "LOCATION_ZIP"],
  "phone numbers": ["PHONE_NUMBER"],
  "email addresses": ["EMAIL_ADDRESS"],
  "cards and accounts": ["CREDIT_CARD", "CREDIT_CARD_EXPIRATION", "CVV", "BANK_ACCOUNT", "ACCOUNT_NUMBER", "ROUTING_NUMBER"],
  dates: ["DATE", "DOB", "DATE_INTERVAL"],
  organisations: ["ORGANIZATION"],
  "ID numbers": ["SSN", "PASSPORT_NUMBER", "DRIVER_LICENSE", "HEALTHCARE_NUMBER", "VEHICLE_ID"],
};
const DEBOUNCE_MS = 120;
const MAX_IN_FLIGHT = 8;

export function setupRedact() {
  const input = document.getElementById("redact-input");
  const output = document.getElementById("redact-output");
  const highlight = document.getElementById("redact-highlight");
  const error = document.getElementById("redact-error");
  const types = document.getElementById("redact-types");
  for (const group of Object.keys(GROUPS)) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = group;
    label.append(box, ` ${group}`);
    types.append(label);
  }

  const pending = []; // the texts sent and not yet answered, in order
  let timer = null;
  const socket = new ReconnectingSocket("Redact", () => wsUrl("/ws"), {
    onOpen: () => {
      pending.length = 0;
      error.textContent = "";
      schedule(0);
    },
    onMessage: (data) => render(pending.shift() ?? "", JSON.parse(data)),
    onState: (state, text) => {
      showState("redact", state, text);
      if (state === "refused" || state === "lost") error.textContent = text;
    },
    onNote: note,
  });

  function request(text) {
    const style = document.querySelector('input[name="style"]:checked').value;
    const body = { text, processed_text: { type: style } };
    const disabled = [...types.querySelectorAll("input:not(:checked)")].flatMap((box) => GROUPS[box.value]);
    if (disabled.length) body.entity_detection = { entity_types: [{ type: "DISABLE", value: disabled }] };
    return JSON.stringify(body);
  }

  function send() {
    const text = input.value;
    if (!text.trim()) {
      output.textContent = "";
      highlight.textContent = "";
      return;
    }
    if (pending.length >= MAX_IN_FLIGHT) return schedule(DEBOUNCE_MS);
    if (socket.send(request(text))) pending.push(text);
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(send, delay);
  }

  function render(text, reply) {
    if (reply.error) {
      error.textContent = `${reply.error} (${reply.status})`;
      return;
    }
    error.textContent = "";
    output.textContent = reply.processed_text;
    highlight.replaceChildren(...highlighted(text, reply.entities || []));
  }

  input.addEventListener("input", () => schedule(DEBOUNCE_MS));
  for (const el of document.querySelectorAll("#redact-style input, #redact-types input")) {
    el.addEventListener("change", () => schedule(0));
  }
  window.addEventListener("keychange", () => socket.connect());
  socket.connect();
}

// The original text with each entity marked, its label and score beside it. Offsets are the server's
// (Python) character offsets, which count code points, not UTF-16 units.
function highlighted(text, entities) {
  const chars = Array.from(text);
  const nodes = [];
  let at = 0;
  for (const entity of [...entities].sort((a, b) => a.location.stt_idx - b.location.stt_idx)) {
    const { stt_idx: start, end_idx: end } = entity.location;
    if (start < at) continue;
    nodes.push(document.createTextNode(chars.slice(at, start).join("")));
    const mark = document.createElement("mark");
    const score = entity.labels?.[entity.best_label] ?? 0;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = `${entity.best_label} ${score.toFixed(2)}`;
    mark.dataset.label = entity.best_label;
    mark.dataset.score = String(score);
    mark.append(chars.slice(start, end).join(""), label);
    nodes.push(mark);
    at = end;
  }
  nodes.push(document.createTextNode(chars.slice(at).join("")));
  return nodes;
}
