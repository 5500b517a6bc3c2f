"""Sound for the beat maker, in pure Python: drum hits and melody notes mixed into WAV bytes.

Pure functions, no widgets: `render_wav(pattern, tempo, ...)` returns a complete WAV file
(22050 Hz, mono, 16-bit). A step is a sixteenth note, so one step lasts 60 / tempo / 4
seconds and a loop of 16 steps at 120 BPM lasts 2 seconds. One loop is mixed once; sounds
that ring past its end carry over into the start of the next repeat, so loops join
smoothly. Noise uses a fixed seed, so the same pattern always gives the same bytes.
"""

from __future__ import annotations

import io
import math
import random
import sys
from array import array
from collections.abc import Mapping, Sequence
from functools import lru_cache

__all__ = ["DRUMS", "NOTES", "RATE", "SOUNDS", "loop_frames", "render_samples", "render_wav", "step_seconds"]

RATE = 22050
DRUMS = ("kick", "snare", "hi-hat")
#: A pentatonic scale: any notes played together sound fine.
NOTES = {"C": 261.63, "D": 293.66, "E": 329.63, "G": 392.00, "A": 440.00}
SOUNDS = {"soft": "sine", "buzzy": "square", "bright": "sawtooth"}
MIN_TEMPO, MAX_TEMPO = 60, 180
_GAIN = 0.6
_TAU = 2 * math.pi


def step_seconds(tempo: int) -> float:
    """Length of one step (a sixteenth note) at `tempo` beats per minute."""
    return 60.0 / tempo / 4


def loop_frames(tempo: int, steps: int) -> int:
    """Number of audio frames in one loop of `steps` steps."""
    return round(steps * step_seconds(tempo) * RATE)


@lru_cache(maxsize=64)
def _drum(name: str) -> tuple[float, ...]:
    noise = random.Random(name)
    if name == "kick":
        length, phase, out = int(0.30 * RATE), 0.0, []
        for i in range(length):
            t = i / RATE
            phase += _TAU * (50 + 110 * math.exp(-t * 30)) / RATE
            out.append(math.sin(phase) * math.exp(-t * 9))
        return tuple(out)
    if name == "snare":
        length = int(0.18 * RATE)
        return tuple(
            (0.7 * (noise.random() * 2 - 1) + 0.3 * math.sin(_TAU * 185 * i / RATE)) * math.exp(-i / RATE * 22)
            for i in range(length)
        )
    if name == "hi-hat":
        length, previous, out = int(0.06 * RATE), 0.0, []
        for i in range(length):
            sample = noise.random() * 2 - 1
            out.append((sample - previous) * 0.5 * math.exp(-i / RATE * 60))  # a difference keeps the highs
            previous = sample
        return tuple(out)
    raise ValueError(f"Unknown drum {name!r}; choose one of {', '.join(DRUMS)}.")


def _wave(shape: str, phase: float) -> float:
    if shape == "sine":
        return math.sin(phase)
    cycle = (phase / _TAU) % 1.0
    if shape == "square":
        return 0.5 if cycle < 0.5 else -0.5
    if shape == "sawtooth":
        return 0.6 * (2 * cycle - 1)
    raise ValueError(f"Unknown wave shape {shape!r}.")


@lru_cache(maxsize=64)
def _note(frequency: float, sound: str, length: int) -> tuple[float, ...]:
    shape = SOUNDS[sound]
    attack, release = int(0.005 * RATE), int(0.03 * RATE)
    out = []
    for i in range(length):
        envelope = min(1.0, i / attack, (length - i) / release) * math.exp(-i / RATE * 3)
        out.append(_wave(shape, _TAU * frequency * i / RATE) * envelope * 0.8)
    return tuple(out)


def render_samples(
    pattern: Mapping[str, Sequence[bool]], tempo: int, sound: str = "soft", repeats: int = 1
) -> list[float]:
    """Mix `pattern` ({row name: one bool per step}) into samples between -1 and 1.

    Row names are drums (`DRUMS`) or notes (`NOTES`). Every row has the same number of steps.
    """
    if not MIN_TEMPO <= tempo <= MAX_TEMPO:
        raise ValueError(f"Tempo must be {MIN_TEMPO} to {MAX_TEMPO} beats per minute, not {tempo}.")
    if sound not in SOUNDS:
        raise ValueError(f"Sound must be one of {', '.join(SOUNDS)}, not {sound!r}.")
    if not 1 <= repeats <= 16:
        raise ValueError(f"Repeats must be 1 to 16, not {repeats}.")
    lengths = {len(steps) for steps in pattern.values()}
    if len(lengths) != 1 or not 1 <= min(lengths) <= 64:
        raise ValueError("Every row needs the same number of steps (1 to 64).")
    steps = lengths.pop()
    frames = loop_frames(tempo, steps)
    note_length = min(int(step_seconds(tempo) * RATE * 2), int(0.4 * RATE))
    hits = {name: (_drum(name) if name in DRUMS else _note(NOTES[name], sound, note_length)) for name in pattern}
    tail = max((len(hit) for hit in hits.values()), default=0)
    body = [0.0] * (frames + tail)
    for name, row in pattern.items():
        hit = hits[name]
        for step, on in enumerate(row):
            if on:
                start = round(step * step_seconds(tempo) * RATE)
                end = start + len(hit)
                body[start:end] = [a + b for a, b in zip(body[start:end], hit, strict=True)]
    first = body[:frames]
    carry = body[frames : frames + frames]  # what rings past the loop's end, heard at the start of the next
    later = first[:]
    later[: len(carry)] = [a + b for a, b in zip(later[: len(carry)], carry, strict=True)]
    return first + later * (repeats - 1)


def to_wav(samples: Sequence[float]) -> bytes:
    """Samples between -1 and 1 as a WAV file: 22050 Hz, mono, 16-bit."""
    # tanh rounds off loud moments (many rows on one step) instead of clipping them harshly.
    pcm = array("h", (int(math.tanh(s * _GAIN) * 32000) for s in samples))
    if sys.byteorder == "big":
        pcm.byteswap()
    import wave  # here, not above: a kernel that shows a beat maker imports it only when a sound is made

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def render_wav(pattern: Mapping[str, Sequence[bool]], tempo: int, sound: str = "soft", repeats: int = 1) -> bytes:
    """`pattern` played `repeats` times at `tempo`, as WAV bytes."""
    return to_wav(render_samples(pattern, tempo, sound, repeats))
