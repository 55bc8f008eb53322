"""Audio the simulator writes: 8 kHz 16-bit mono PCM, a quiet tone for talk, zeros for silence.

A recording is a list of segments ``(seconds, audible)``; paused time is simply not in the
list, muted time is a silent segment (what Asterisk does, README lesson 11).
"""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Iterable
from pathlib import Path

RATE = 8000
SAMPLE_WIDTH = 2

# Formats the simulator can write, like the ones a stock Asterisk knows for recordings.
# wav/wav16 get a RIFF header; sln/sln16 are raw signed linear; ulaw/alaw are raw G.711.
FORMATS: dict[str, tuple[int, str]] = {
    "wav": (8000, "wav"),
    "wav16": (16000, "wav"),
    "sln": (8000, "raw16"),
    "sln16": (16000, "raw16"),
    "ulaw": (8000, "ulaw"),
    "alaw": (8000, "alaw"),
}
# File extension Asterisk uses for each format (wav16 is stored as .wav16 too).
EXTENSIONS = {name: name for name in FORMATS}


def _tone_second(rate: int) -> bytes:
    # 425 Hz at about -30 dBFS: audible, quiet, clearly not silence.
    amp = 1000
    return b"".join(
        struct.pack("<h", int(amp * math.sin(2 * math.pi * 425 * i / rate))) for i in range(rate)
    )


_TONE = {8000: _tone_second(8000), 16000: _tone_second(16000)}


def pcm(segments: Iterable[tuple[float, bool]], rate: int = RATE) -> bytes:
    """16-bit PCM for the segments (tone when audible, zeros when muted)."""
    out = bytearray()
    tone = _TONE[rate]
    for seconds, audible in segments:
        frames = max(0, int(round(seconds * rate)))
        if not audible:
            out += bytes(frames * SAMPLE_WIDTH)
            continue
        while frames > 0:
            chunk = min(frames, rate)
            out += tone[: chunk * SAMPLE_WIDTH]
            frames -= chunk
    return bytes(out)


def encode(fmt: str, segments: Iterable[tuple[float, bool]]) -> bytes:
    """The file content of a recording in `fmt` (one of FORMATS)."""
    rate, kind = FORMATS[fmt]
    data = pcm(segments, rate)
    if kind == "raw16":
        return data
    if kind in ("ulaw", "alaw"):
        # Tone amplitude is irrelevant for a simulator: write the codec's silence byte.
        return (b"\xff" if kind == "ulaw" else b"\xd5") * (len(data) // 2)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(data)
    return buf.getvalue()


def write(path: Path, fmt: str, segments: Iterable[tuple[float, bool]]) -> int:
    """Write the recording atomically; returns the number of bytes written."""
    data = encode(fmt, segments)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return len(data)


def content_type(fmt: str) -> str:
    return {"wav": "audio/wav", "wav16": "audio/wav", "ulaw": "audio/basic",
            "alaw": "audio/x-alaw-basic"}.get(fmt, "application/octet-stream")
