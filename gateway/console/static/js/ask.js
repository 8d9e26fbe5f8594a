// Ask: a chat over Socket.IO (AI12Z's protocol: emit evaluate_query, receive "response" tokens, then one
// end_response with the whole answer, its source and the conversationId for follow-ups).
import { io } from "../vendor/socket.io.esm.min.js";
import { apiKey } from "./key.js";
import { note, showState } from "./events.js";
import { renderMarkdown, safeUrl } from "./markdown.js";

const ANSWER_TIMEOUT_MS = 90000; // beyond the gateway's own answer timeout: the page never waits for ever

export function setupAsk() {
  const chat = document.getElementById("chat");
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const button = document.getElementById("ask-button");
  const error = document.getElementById("ask-error");
  const conversation = document.getElementById("conversation");
  let conversationId = "";
  let current = null; // the answer being streamed

  const socket = io({ path: "/socket.io/", reconnectionDelay: 500, reconnectionDelayMax: 5000 });
  let everConnected = false;
  socket.on("connect", () => {
    showState("ask", "connected", "connected");
    if (everConnected) note("Ask: reconnected");
    everConnected = true;
    error.textContent = "";
  });
  socket.on("disconnect", (reason) => {
    showState("ask", "lost", `connection lost (${reason}); reconnecting`);
    note(`Ask: connection lost (${reason}); reconnecting`);
    if (current) finish(current, "the connection was lost while answering; ask again");
  });
  socket.on("connect_error", (err) => {
    showState("ask", "lost", `cannot connect (${err.message}); retrying`);
    // A connection the server refused (a draining gateway) is not retried by the client itself.
    if (!socket.active) setTimeout(() => socket.connect(), 1000);
  });
  socket.on("response", (event) => {
    if (!current) return;
    current.text += event.data;
    current.tokens += 1;
    current.body.dataset.tokens = String(current.tokens);
    current.body.innerHTML = renderMarkdown(current.text);
  });
  socket.on("end_response", (end) => {
    if (!current) return;
    const answer = current;
    if (end.conversationId) {
      conversationId = end.conversationId;
      conversation.textContent = conversationId;
    }
    if (end.error) return finish(answer, end.error);
    answer.body.innerHTML = renderMarkdown(end.answer || answer.text);
    if (end.title || end.link) answer.item.append(source(end));
    finish(answer, null);
  });

  function finish(answer, problem) {
    clearTimeout(answer.timer);
    answer.item.dataset.done = "true";
    if (problem) {
      answer.item.classList.add("failed");
      const said = document.createElement("p");
      said.className = "error";
      said.textContent = problem;
      answer.item.append(said);
    }
    current = null;
    button.disabled = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (!query || current) return;
    error.textContent = "";
    const asked = document.createElement("p");
    asked.className = "question";
    asked.textContent = query;
    const item = document.createElement("div");
    item.className = "answer";
    const body = document.createElement("div");
    body.className = "body";
    item.append(body);
    chat.append(asked, item);
    const answer = { item, body, text: "", tokens: 0, timer: null };
    answer.timer = setTimeout(() => finish(answer, `no answer within ${ANSWER_TIMEOUT_MS / 1000} s`), ANSWER_TIMEOUT_MS);
    current = answer;
    button.disabled = true;
    input.value = "";
    if (!socket.connected) return finish(answer, "not connected to the gateway; try again in a moment");
    socket.emit("evaluate_query", { apiKey: apiKey(), query, conversationId, event: "evaluate_query" });
    chat.scrollTop = chat.scrollHeight;
  });

  document.getElementById("new-conversation").addEventListener("click", () => {
    conversationId = "";
    conversation.textContent = "(new)";
    chat.replaceChildren();
  });
}

function source(end) {
  const p = document.createElement("p");
  p.className = "source";
  const title = end.title || end.link;
  const href = safeUrl(end.link || "");
  p.append("Source: ");
  if (href) {
    const a = document.createElement("a");
    a.href = href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.textContent = title;
    p.append(a);
  } else p.append(title);
  return p;
}
