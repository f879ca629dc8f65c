"""Build the offline audio corpus for the audio-pretrained stand-in (paper Table 1).

The official DAC audio weights cannot be downloaded here, so a model of eegzip's size is
pretrained on audio that Debian's packages give offline, in four groups that `eegzip train
--audio` samples equally often:

- speech-recorded: asterisk-core-sounds-en-wav (human voice prompts);
- speech-synthetic: espeak-ng, many voices, speeds and pitches;
- music: asc-music (game soundtrack MP3s), cut into 30-s pieces;
- tones: synthesized melodies with harmonics, envelopes, chords and noise percussion.

Everything is written at eegzip.train.data.AUDIO_RATE as 16-bit WAV, outside the repository
(default runs/audio, which git ignores):

    apt-get install espeak-ng asterisk-core-sounds-en-wav asc-music
    python benchmarks/audio_corpus.py --out runs/audio
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from eegzip.pipeline.resample import rate_ratio, resample
from eegzip.train.data import AUDIO_RATE

ASTERISK = Path("/usr/share/asterisk/sounds/en")
ASC_MUSIC = Path("/usr/share/games/asc/music")
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please hold the line while we connect your call.",
    "Electroencephalography records the electrical activity of the brain.",
    "Seven hundred and forty two samples were taken on Tuesday morning.",
    "She sells sea shells by the sea shore, and the shells are surely sea shells.",
    "A journey of a thousand miles begins with a single step.",
    "Numbers: one, two, three, four, five, six, seven, eight, nine, ten.",
    "How razorback jumping frogs can level six piqued gymnasts.",
)
VOICES = ("en", "en-us", "en-gb-x-rp", "de", "fr", "es", "it", "nl", "sv", "pl", "pt", "hi")


def _write(path: Path, samples: np.ndarray, rate: int) -> None:
    up, down = rate_ratio(rate, AUDIO_RATE)
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    out = resample(mono[None, :], up, down)[0]
    peak = np.max(np.abs(out)) or 1.0
    soundfile.write(path, (0.9 * out / peak).astype(np.float32), AUDIO_RATE, subtype="PCM_16")


def recorded_speech(out: Path) -> int:
    files = sorted(ASTERISK.glob("*.wav"))
    for f in files:
        samples, rate = soundfile.read(f)
        _write(out / f.name, samples, rate)
    return len(files)


def synthetic_speech(out: Path) -> int:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
    rng = np.random.default_rng(0)
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for voice in VOICES:
            for i, text in enumerate(SENTENCES):
                wav = Path(tmp) / "x.wav"
                speed, pitch = int(rng.integers(120, 220)), int(rng.integers(20, 80))
                subprocess.run(
                    ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", wav, text],
                    check=True,
                    capture_output=True,
                )
                samples, rate = soundfile.read(wav)
                _write(out / f"{voice}-{i}.wav", samples, rate)
                count += 1
    return count


def music(out: Path, piece_seconds: float = 30.0) -> int:
    count = 0
    for f in sorted(ASC_MUSIC.glob("*.mp3")):
        samples, rate = soundfile.read(f)
        piece = int(piece_seconds * rate)
        for k in range(0, len(samples) - piece + 1, piece):
            _write(out / f"{f.stem}-{k // piece:02d}.wav", samples[k : k + piece], rate)
            count += 1
    return count


def tones(out: Path, pieces: int = 40, seconds: float = 20.0) -> int:
    """Melodies on a random scale: harmonic notes with attack/decay, chords, noise hits."""
    rng = np.random.default_rng(1)
    rate = AUDIO_RATE
    t_total = int(seconds * rate)
    for p in range(pieces):
        signal = np.zeros(t_total)
        root = 110 * 2 ** (rng.integers(0, 24) / 12)
        scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
        position = 0
        while position < t_total:
            length = int(rate * rng.choice([0.125, 0.25, 0.5, 1.0]))
            t = np.arange(min(length, t_total - position)) / rate
            envelope = np.minimum(1, t / 0.01) * np.exp(-t * rng.uniform(1, 8))
            chord = rng.choice(scale, size=rng.integers(1, 4), replace=False)
            note = np.zeros_like(t)
            for step in chord:
                f0 = root * 2 ** (step / 12) * 2 ** int(rng.integers(0, 3))
                for h in range(1, 6):
                    if f0 * h < rate / 2:
                        note += np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h**1.5
            if rng.random() < 0.3:
                note += rng.normal(0, 0.5, len(t)) * np.exp(-t * 30)
            signal[position : position + len(t)] += envelope * note
            position += len(t)
        _write(out / f"tones-{p:02d}.wav", signal, rate)
    return pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/audio"))
    args = parser.parse_args()
    makers = {
        "speech-recorded": recorded_speech,
        "speech-synthetic": synthetic_speech,
        "music": music,
        "tones": tones,
    }
    for group, make in makers.items():
        folder = args.out / group
        folder.mkdir(parents=True, exist_ok=True)
        count = make(folder)
        seconds = sum(soundfile.info(f).duration for f in folder.glob("*.wav"))
        print(f"{group}: {count} files, {seconds / 60:.1f} min")


if __name__ == "__main__":
    main()
