// AudioWorklet: the microphone's first channel as little-endian PCM16, posted in chunks of `chunk`
// samples (4096, what IDVoice's browser clients send) at the AudioContext's sample rate.
class Pcm16Chunker extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.size = options.processorOptions?.chunk ?? 4096;
    this.buffer = new Int16Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (channel) {
      for (let i = 0; i < channel.length; i++) {
        const s = Math.max(-1, Math.min(1, channel[i]));
        this.buffer[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
        if (this.filled === this.size) {
          this.port.postMessage(this.buffer.buffer, [this.buffer.buffer]);
          this.buffer = new Int16Array(this.size);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pcm16-chunker", Pcm16Chunker);
