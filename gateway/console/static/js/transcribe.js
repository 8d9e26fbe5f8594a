// Transcribe: the microphone (raw PCM16) or a WAV file streamed to /transcribe (V-Blaze's protocol:
// binary audio, an empty binary frame at the end; utterances as they are final, an empty text message,
// the whole transcript, then the server closes). scrubaudio's redacted audio comes back as binary frames.
import { closeText, explainRefusal, wsUrl } from "./conn.js";
import { note, showState } from "./events.js";
import { microphoneError, openMicrophone, wavBlob, wavRate } from "./audio.js";

const FILE_SLICE = 64 * 1024;
const RESULT_TIMEOUT_MS = 90000; // after the end marker; the page never waits for ever

export function setupTranscribe() {
  const micButton = document.getElementById("mic");
  const picker = document.getElementById("transcribe-file");
  const list = document.getElementById("utterances");
  const error = document.getElementById("transcribe-error");
  const info = document.getElementById("transcribe-info");
  const player = document.getElementById("scrubbed");
  const playerWrap = document.getElementById("scrubbed-wrap");
  let call = null;

  function reset() {
    list.replaceChildren();
    error.textContent = "";
    info.textContent = "";
    playerWrap.hidden = true;
    if (player.src) URL.revokeObjectURL(player.src);
    player.removeAttribute("src");
  }

  function busy(on, mic = false) {
    micButton.setAttribute("aria-pressed", String(on && mic));
    micButton.textContent = on && mic ? "Stop microphone" : "Start microphone";
    micButton.disabled = on && !mic;
    picker.disabled = on;
  }

  // One /transcribe call. audio: {kind: "mic"} or {kind: "file", bytes}.
  function start(audio) {
    reset();
    const tags = { output: "json", outstream: "true" };
    if (document.getElementById("scrubtext").checked) tags.scrubtext = "true";
    if (document.getElementById("scrubaudio").checked) tags.scrubaudio = "true";
    const state = { ws: null, mic: null, opened: false, ended: false, done: false, scrubbed: [], rate: 0, timer: null };
    call = state;
    busy(true, audio.kind === "mic");
    showState("transcribe", "connecting", "connecting");

    const open = (query) => {
      const ws = new WebSocket(wsUrl("/transcribe", { ...tags, ...query }));
      ws.binaryType = "arraybuffer";
      state.ws = ws;
      ws.onopen = () => {
        state.opened = true;
        showState("transcribe", "streaming", "streaming");
        if (audio.kind === "file") {
          for (let at = 0; at < audio.bytes.byteLength; at += FILE_SLICE) ws.send(audio.bytes.slice(at, at + FILE_SLICE));
          end();
        }
      };
      ws.onmessage = (event) => receive(event.data);
      ws.onclose = (event) => closed(event);
    };

    function end() {
      if (state.ended || !state.ws) return;
      state.ended = true;
      state.mic?.stop();
      if (state.ws.readyState === WebSocket.OPEN) state.ws.send(new ArrayBuffer(0));
      info.textContent = "All audio sent; waiting for the last utterances and the transcript.";
      state.timer = setTimeout(() => {
        fail(`no transcript within ${RESULT_TIMEOUT_MS / 1000} s`);
        state.ws.close();
      }, RESULT_TIMEOUT_MS);
    }
    state.end = end;

    function receive(data) {
      if (data instanceof ArrayBuffer) {
        state.scrubbed.push(data);
        return;
      }
      if (data === "") return; // between the streamed utterances and the transcript
      const message = JSON.parse(data);
      if (message.error) return fail(message.error);
      if (Array.isArray(message.utterances)) {
        state.done = true;
        info.textContent = `Transcript complete: ${message.utterances.length} utterance(s), ${message.audiosecs} s of audio.`;
        info.dataset.complete = "true";
        return;
      }
      addUtterance(message);
    }

    function addUtterance(utterance) {
      const item = document.createElement("li");
      const time = document.createElement("span");
      time.className = "time";
      time.textContent = `${utterance.start.toFixed(1)}–${utterance.end.toFixed(1)} s`;
      item.append(time, (utterance.events || []).map((e) => e.word).join(" "));
      list.append(item);
      list.scrollTop = list.scrollHeight;
    }

    function fail(message) {
      error.textContent = message;
      info.textContent = "";
      showState("transcribe", "error", "error");
    }

    async function closed(event) {
      clearTimeout(state.timer);
      state.mic?.stop();
      if (!state.opened) fail((await explainRefusal()).message);
      else if (!state.done && !error.textContent) {
        fail(`connection lost before the transcript (${closeText(event)})`);
        note(`Transcribe: connection lost (${closeText(event)})`);
      }
      if (state.done) showState("transcribe", "idle", "idle");
      if (state.scrubbed.length && state.rate) {
        player.src = URL.createObjectURL(wavBlob(state.scrubbed, state.rate));
        playerWrap.hidden = false;
      }
      if (call === state) call = null;
      busy(false);
    }

    if (audio.kind === "file") {
      state.rate = wavRate(audio.bytes);
      open({ datahdr: "WAVE" });
      return;
    }
    openMicrophone((chunk) => state.ws?.readyState === WebSocket.OPEN && !state.ended && state.ws.send(chunk))
      .then((mic) => {
        if (call !== state) return mic.stop();
        state.mic = mic;
        state.rate = mic.rate;
        open({ datahdr: "NONE", samprate: mic.rate, encoding: "pcm", sampwidth: 2 });
      })
      .catch((err) => {
        fail(microphoneError(err));
        call = null;
        busy(false);
      });
  }

  micButton.addEventListener("click", () => {
    if (call) call.end?.();
    else start({ kind: "mic" });
  });
  picker.addEventListener("change", async () => {
    const file = picker.files[0];
    if (!file || call) return;
    start({ kind: "file", bytes: await file.arrayBuffer() });
    picker.value = "";
  });
}
