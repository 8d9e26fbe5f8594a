// Microphone capture (an AudioWorklet producing PCM16 chunks) and WAV packing for playback.
const WORKLET = "/console/static/js/pcm-worklet.js";

// Starts the microphone; onChunk gets each ArrayBuffer of PCM16 samples. Returns {rate, stop()}.
export async function openMicrophone(onChunk) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  try {
    await context.audioWorklet.addModule(WORKLET);
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, "pcm16-chunker", { processorOptions: { chunk: 4096 } });
    node.port.onmessage = (event) => onChunk(event.data);
    source.connect(node);
    // The node outputs silence; connecting it keeps the graph pulling it.
    node.connect(context.destination);
    await context.resume();
    return {
      rate: context.sampleRate,
      stop() {
        node.port.onmessage = null;
        for (const track of stream.getTracks()) track.stop();
        context.close();
      },
    };
  } catch (err) {
    for (const track of stream.getTracks()) track.stop();
    context.close();
    throw err;
  }
}

export function microphoneError(err) {
  if (err?.name === "NotAllowedError") return "microphone access was refused by the browser";
  if (err?.name === "NotFoundError") return "no microphone found";
  return `the microphone could not start: ${err?.message || err}`;
}

// Mono PCM16 chunks as a WAV file, for an <audio> element.
export function wavBlob(chunks, rate) {
  const size = chunks.reduce((n, c) => n + c.byteLength, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((ch, i) => header.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + size, true);
  text(8, "WAVE");
  text(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, size, true);
  return new Blob([header, ...chunks], { type: "audio/wav" });
}

// The sample rate in a WAV file's header (0 when it is not one we can read).
export function wavRate(bytes) {
  const view = new DataView(bytes);
  if (bytes.byteLength < 28 || view.getUint32(0, false) !== 0x52494646) return 0; // "RIFF"
  return view.getUint32(24, true);
}
