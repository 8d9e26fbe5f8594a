"""Audio plumbing shared by every protocol and engine; no protocol types here.

- :mod:`.pcm`       PCM16 sample reassembly and sample-width conversion
- :mod:`.g711`      G.711 mu-law and A-law expansion
- :mod:`.wave`      incremental RIFF/WAVE (and raw) decoding to mono PCM16, split anywhere
- :mod:`.resample`  streaming resampling to 16 kHz (soxr)
- :mod:`.vad`       utterance segmentation (webrtcvad)

Nothing is imported here: the gateway image has no soxr or webrtcvad, and needs only pcm/g711/wave.
"""
