// Voice: enrol (5 s from the microphone, or a WAV file) over IDVoice's REST routes, then live
// verification over /voice_verify_stream with a probability chart, and a speech/silence strip from
// /speech_summary_stream, both fed the same microphone chunks (one result comes back per chunk).
import { closeText, explainRefusal, wsUrl } from "./conn.js";
import { keyHeaders } from "./key.js";
import { note, showState } from "./events.js";
import { microphoneError, openMicrophone } from "./audio.js";
import { drawProbabilities, drawStrip } from "./charts.js";

const ENROL_SECONDS = 5;
const CONTEXT_S = "5"; // seconds of speech each score looks at
const WINDOW_S = "2"; // a score every this many seconds of audio
const FACTORY = "/voice_template_factory";

export function setupVoice() {
  const enrolMic = document.getElementById("enrol-mic");
  const enrolFile = document.getElementById("enrol-file");
  const enrolInfo = document.getElementById("enrol-info");
  const verifyButton = document.getElementById("verify");
  const verdict = document.getElementById("verdict");
  const error = document.getElementById("voice-error");
  const results = document.getElementById("verify-results");
  const chart = document.getElementById("prob-chart");
  const strip = document.getElementById("vad-strip");
  const vadSummary = document.getElementById("vad-summary");
  let template = "";
  let live = null;

  async function enrol(url, init) {
    error.textContent = "";
    enrolInfo.textContent = "Enrolling…";
    try {
      const response = await fetch(url, { method: "POST", ...init, headers: { ...keyHeaders(), ...init.headers } });
      const text = await response.text();
      if (!response.ok) throw new Error(errorText(text, response.status));
      template = text.trim();
      enrolInfo.textContent = "Voice enrolled.";
      enrolInfo.dataset.enrolled = "true";
      verifyButton.disabled = false;
    } catch (err) {
      enrolInfo.textContent = template ? "The earlier voice stays enrolled." : "No voice enrolled yet.";
      error.textContent = err.name === "TypeError" ? "the gateway is unreachable" : err.message;
    }
  }

  enrolFile.addEventListener("change", () => {
    const file = enrolFile.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("wav_file", file);
    enrol(`${FACTORY}/create_voice_template_from_file`, { body: form, headers: {} });
    enrolFile.value = "";
  });

  enrolMic.addEventListener("click", async () => {
    error.textContent = "";
    enrolMic.disabled = true;
    const chunks = [];
    try {
      const mic = await openMicrophone((chunk) => chunks.push(chunk));
      enrolInfo.textContent = `Recording ${ENROL_SECONDS} s: speak now…`;
      await new Promise((resolve) => setTimeout(resolve, ENROL_SECONDS * 1000));
      mic.stop();
      const body = new Blob(chunks);
      await enrol(`${FACTORY}/create_voice_template_from_samples?sample_rate=${mic.rate}`, {
        body,
        headers: { "Content-Type": "application/octet-stream" },
      });
    } catch (err) {
      error.textContent = microphoneError(err);
    } finally {
      enrolMic.disabled = false;
    }
  });

  verifyButton.addEventListener("click", () => (live ? stop() : start()));

  async function start() {
    error.textContent = "";
    results.replaceChildren();
    const probabilities = [];
    const frames = [];
    const session = { sockets: [], mic: null, stopped: false };
    live = session;
    verifyButton.setAttribute("aria-pressed", "true");
    verifyButton.textContent = "Stop live verification";
    showState("voice", "connecting", "connecting");
    try {
      session.mic = await openMicrophone((chunk) => {
        for (const ws of session.sockets) if (ws.readyState === WebSocket.OPEN) ws.send(chunk);
      });
    } catch (err) {
      error.textContent = microphoneError(err);
      return stop();
    }
    const rate = String(session.mic.rate);
    session.sockets.push(
      stream(session, "/voice_verify_stream", [template, rate, CONTEXT_S, WINDOW_S], (result) => {
        for (const window of result) {
          const p = window.verify_result.probability;
          probabilities.push(p);
          addResult(window.audio_interval.end_time / 1000, p);
        }
        if (result.length) drawProbabilities(chart, probabilities);
      }),
      stream(session, "/speech_summary_stream", [rate], (result) => {
        const summary = result.current_speech_summary;
        frames.push(...(summary?.vad_result?.frames || []));
        drawStrip(strip, frames);
        const speech = frames.filter(Boolean).length;
        strip.dataset.speechFrames = String(speech);
        strip.dataset.silenceFrames = String(frames.length - speech);
        const seconds = (value) => Number(value || 0).toFixed(1);
        vadSummary.textContent = `Speech ${seconds(result.speech_length)} s so far; background now ${seconds(result.current_background_length)} s.`;
      }),
    );
  }

  function addResult(seconds, p) {
    const item = document.createElement("li");
    item.dataset.probability = String(p);
    item.className = p >= 0.5 ? "high" : "low";
    item.textContent = `${seconds.toFixed(0)} s: ${(p * 100).toFixed(0)}%`;
    results.append(item);
    results.scrollTop = results.scrollHeight;
    verdict.textContent = `${(p * 100).toFixed(0)}%: ${p >= 0.5 ? "the enrolled voice" : "not the enrolled voice"}`;
  }

  // One IDVoice stream: every parameter sent at once (as the vendor's browser client does), each answered
  // "200" or "500" in order; then one result per audio chunk.
  function stream(session, path, params, onResult) {
    const ws = new WebSocket(wsUrl(path));
    let opened = false;
    let answered = 0;
    ws.onopen = () => {
      opened = true;
      showState("voice", "streaming", "streaming");
      for (const value of params) ws.send(value);
    };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (answered < params.length) {
        if (message !== 200) error.textContent = `${path}: parameter ${answered + 1} was refused`;
        answered++;
        return;
      }
      if (message?.error) error.textContent = `${path}: ${message.error}`;
      else onResult(message);
    };
    ws.onclose = async (event) => {
      if (session.stopped) return;
      const why = opened ? closeText(event) : (await explainRefusal()).message;
      if (!error.textContent || opened) error.textContent = `${path}: ${why}`;
      note(`Voice: ${path} ${opened ? "connection lost" : "refused"} (${why})`);
      stop(opened ? "lost" : "error");
    };
    return ws;
  }

  function stop(state = "idle") {
    const session = live;
    live = null;
    verifyButton.setAttribute("aria-pressed", "false");
    verifyButton.textContent = "Start live verification";
    showState("voice", state, state === "lost" ? "connection lost" : state);
    if (!session) return;
    session.stopped = true;
    session.mic?.stop();
    for (const ws of session.sockets) ws.close();
  }
}

function errorText(body, status) {
  try {
    return JSON.parse(body).error || `HTTP ${status}`;
  } catch {
    return `HTTP ${status}`;
  }
}
