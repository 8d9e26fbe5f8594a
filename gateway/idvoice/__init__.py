"""ID R&D IDVoice compatible: the voice streams (PCM16 and Opus) and the template and summary REST routes."""
