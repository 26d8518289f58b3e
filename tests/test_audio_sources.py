"""Audio sources (edge/sources/audio.py): a click track written as WAV and into MP4 files
comes back contiguous, on the right clock and read incrementally; missing sound tracks,
libraries and microphones become one-line notes. The microphone is a fake sounddevice
module: no test touches a real audio device.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
import time
import types
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from edge.core.errors import describe
from edge.sources.audio import (
    LOOKAHEAD,
    AudioChunk,
    AudioError,
    FileAudioSource,
    MicAudioSource,
    NoSoundTrack,
    VideoAudioSource,
    open_audio,
)

BPM = 120
FIRST_CLICK = 0.25
SECONDS = 3.0
FPS = 30


def click_track(sr: int, seconds: float = SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """1 kHz tone bursts of 10 ms at 120 BPM from 0.25 s; the signal and the onset times."""
    signal = np.zeros(int(round(sr * seconds)), np.float32)
    onsets = np.arange(FIRST_CLICK, seconds - 0.1, 60.0 / BPM)
    burst = int(round(0.010 * sr))
    tone = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(burst) / sr)).astype(np.float32)
    for t in onsets:
        i = int(round(t * sr))
        signal[i:i + burst] = tone
    return signal, onsets


def write_video(path: Path, sr: int | None, start: float = 0.0, seconds: float = SECONDS) -> None:
    """A small MP4 of grey frames (mpeg4) with, when ``sr`` is given, the click track as
    stereo AAC; both streams start at media time ``start``."""
    av = pytest.importorskip("av")
    signal, _ = click_track(sr or 48000, seconds)
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = None
        if sr is not None:
            audio = out.add_stream("aac", rate=sr)
            audio.layout = "stereo"
        done = 0
        for k in range(int(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (k * 7) % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = k + int(round(start * FPS)), Fraction(1, FPS)
            out.mux(video.encode(frame))
            while audio is not None and done < min((k + 1) * sr / FPS, len(signal)):
                block = signal[done:done + 1024]
                af = av.AudioFrame.from_ndarray(np.stack([block, block]), format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = sr, done + int(round(start * sr)), Fraction(1, sr)
                out.mux(audio.encode(af))
                done += len(block)
        out.mux(video.encode(None))
        if audio is not None:
            out.mux(audio.encode(None))


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    sf = pytest.importorskip("soundfile")
    root = tmp_path_factory.mktemp("audio")
    files = {"wav": root / "clicks.wav", "stereo_wav": root / "clicks_stereo.wav", "mp4": root / "clicks.mp4",
             "late_mp4": root / "late.mp4", "silent_mp4": root / "silent.mp4"}
    signal, _ = click_track(44100)
    sf.write(files["wav"], signal, 44100, subtype="FLOAT")
    sf.write(files["stereo_wav"], np.stack([signal, np.zeros_like(signal)], axis=1), 44100, subtype="PCM_16")
    write_video(files["mp4"], 48000)
    write_video(files["late_mp4"], 48000, start=0.5)
    write_video(files["silent_mp4"], None)
    return files


def read_all(source, step: float = 0.4) -> list[AudioChunk]:
    chunks, t = [], 0.0
    while not source.exhausted:
        t += step
        chunks += source.read_until(t)
        assert t < 60, "the source never ended"
    return chunks


def assert_contiguous(chunks: list[AudioChunk]) -> None:
    assert chunks
    for a, b in zip(chunks, chunks[1:]):
        assert b.t > a.t
        assert abs(b.t - a.end) < 1e-3, (a.t, a.end, b.t)
    for c in chunks:
        assert c.samples.dtype == np.float32 and c.samples.ndim == 1 and len(c.samples) > 0


def onset_times(chunks: list[AudioChunk], threshold: float = 0.1) -> np.ndarray:
    """Times where the signal first rises above ``threshold`` after 0.1 s of quiet."""
    x = np.concatenate([c.samples for c in chunks])
    sr = chunks[0].sample_rate
    loud = np.flatnonzero(np.abs(x) > threshold)
    starts = loud[np.r_[True, np.diff(loud) > 0.1 * sr]]
    return chunks[0].t + starts / sr


# --------------------------------------------------------------------------------------
# Files


def test_wav_comes_back_exactly(media):
    signal, _ = click_track(44100)
    with FileAudioSource(media["wav"]) as src:
        assert src.sample_rate == 44100 and not src.live
        assert src.description == f"audio file {media['wav']} (44100 Hz)"
        chunks = read_all(src)
    assert_contiguous(chunks)
    assert chunks[0].t == 0.0
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), signal)


def test_stereo_wav_is_averaged_to_mono(media):
    signal, _ = click_track(44100)
    with FileAudioSource(media["stereo_wav"]) as src:
        mono = np.concatenate([c.samples for c in read_all(src)])
    np.testing.assert_allclose(mono, signal / 2, atol=1 / 32768)


def test_read_until_is_incremental(media):
    with FileAudioSource(media["wav"], block_seconds=0.25) as src:
        seen: list[AudioChunk] = []
        for t in (0.0, 0.3, 0.3, 1.2, 1.21, 2.0, 10.0):
            new = src.read_until(t)
            for c in new:
                assert c.t < t + LOOKAHEAD
                if seen:
                    assert c.t >= seen[-1].end - 1e-9  # only chunks not returned before
            seen += new
            if not src.exhausted:
                assert seen[-1].end >= t  # covers up to t
        assert src.exhausted
        assert src.read_until(100.0) == []
        assert abs(seen[-1].end - SECONDS) < 1e-9
        src.close()
        src.close()  # idempotent


def test_aac_sound_track_clicks_are_where_they_were_written(media):
    _, onsets = click_track(48000)
    with VideoAudioSource(str(media["mp4"])) as src:
        assert src.sample_rate == 48000 and not src.live
        assert src.description == f"sound track of {media['mp4']} (48000 Hz)"
        chunks = read_all(src)
    assert_contiguous(chunks)
    # FFmpeg's decoder drops AAC's 1024 priming samples (the MP4 edit list): t = 0 is the first
    # written sample, with no correction of ours. Measured: onsets within 0.1 ms.
    assert abs(chunks[0].t) < 1e-3
    found = onset_times(chunks)
    assert len(found) == len(onsets)
    np.testing.assert_allclose(found, onsets, atol=0.010)
    total = sum(c.duration for c in chunks)
    assert abs(total - SECONDS) < 0.05  # the encoder pads the last frame


def test_sound_track_time_starts_at_the_first_video_frame(media):
    """Both streams start at media time 0.5 s: the clock is OpenCV's (first video frame = 0)."""
    _, onsets = click_track(48000)
    with VideoAudioSource(str(media["late_mp4"])) as src:
        chunks = read_all(src)
    assert_contiguous(chunks)
    # here the priming samples stay in the stream, at negative time (1024 samples, 21 ms)
    assert -0.03 < chunks[0].t < 0.001
    np.testing.assert_allclose(onset_times(chunks), onsets, atol=0.010)
    cv2 = pytest.importorskip("cv2")
    from edge.sources.frames import VideoSource

    if not cv2.VideoCapture(str(media["late_mp4"])).isOpened():
        pytest.skip("OpenCV cannot read mpeg4 here")
    with VideoSource(media["late_mp4"]) as frames:
        first = next(iter(frames))
    assert first.t == pytest.approx(0.0, abs=1e-3)


def test_sound_track_is_read_incrementally(media):
    with VideoAudioSource(str(media["mp4"])) as src:
        first = src.read_until(0.5)
        assert first and first[0].t < 0.01
        assert first[-1].end >= 0.5 and all(c.t < 0.5 + LOOKAHEAD for c in first)
        assert not src.exhausted
        assert src.read_until(0.5) == []
        rest = src.read_until(100.0)
        assert src.exhausted
    assert_contiguous(first + rest)


def test_no_sound_track(media):
    with pytest.raises(NoSoundTrack) as info:
        VideoAudioSource(str(media["silent_mp4"]))
    assert "\n" not in str(info.value) and "no sound track" in str(info.value)
    assert describe(info.value) == str(info.value)
    source, note = open_audio(video=str(media["silent_mp4"]))
    assert source is None
    assert note == f"no audio: {media['silent_mp4']} has no sound track; going on with pose only"


def test_unreadable_files(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(AudioError, match="cannot read the sound track of"):
        VideoAudioSource(str(bad))
    source, note = open_audio(video=str(bad))
    assert source is None and note.startswith("no audio: cannot read the sound track") and "\n" not in note
    badwav = tmp_path / "bad.wav"
    badwav.write_bytes(b"RIFF nonsense" * 10)
    with pytest.raises(AudioError, match="cannot read this audio file") as info:
        open_audio(audio_file=str(badwav))
    assert "\n" not in str(info.value)


def test_open_audio_priority_and_missing_file(media, tmp_path):
    assert open_audio(video=str(media["mp4"]), no_audio=True) == (None, None)
    assert open_audio() == (None, None)
    source, note = open_audio(video=str(media["mp4"]), audio_file=str(media["wav"]))
    assert isinstance(source, FileAudioSource) and note is None
    source.close()
    source, note = open_audio(video=str(media["mp4"]))
    assert isinstance(source, VideoAudioSource) and note is None
    source.close()
    with pytest.raises(AudioError) as info:  # asked for explicitly: an error, not a note
        open_audio(video=str(media["mp4"]), audio_file=str(tmp_path / "missing.wav"))
    message = describe(info.value)
    assert message is not None and "\n" not in message and "not found" in message and "missing.wav" in message


def test_open_audio_without_pyav_is_a_note(media, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    assert open_audio(video=str(media["mp4"])) == (
        None, "no audio: PyAV is not installed (pip install 'edgerec[audio]'); going on with pose only")


def test_live_sound_track_is_bounded_and_on_the_monotonic_clock(media):
    with VideoAudioSource(str(media["mp4"])) as src:
        reference = np.concatenate([c.samples for c in read_all(src)])
    before = time.monotonic()
    src = VideoAudioSource(str(media["mp4"]), live=True, max_seconds=30.0)
    chunks: list[AudioChunk] = []
    deadline = time.monotonic() + 10
    while not src.exhausted and time.monotonic() < deadline:
        chunks += src.read_until(0.0)
        time.sleep(0.01)
    src.close()
    after = time.monotonic()
    assert src.live and src.exhausted and src.dropped_seconds == 0.0
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), reference)
    assert all(before - c.duration <= c.t <= after for c in chunks)

    src = VideoAudioSource(str(media["mp4"]), live=True, max_seconds=0.5)
    src._thread.join(10)  # decoded to the end with nobody reading: only the newest 0.5 s is kept
    kept = np.concatenate([c.samples for c in src.read_until(0.0)])
    src.close()
    assert len(kept) == 24000
    assert src.dropped_seconds == pytest.approx(len(reference) / 48000 - 0.5, abs=1e-6)
    np.testing.assert_array_equal(kept, reference[-24000:])


# --------------------------------------------------------------------------------------
# Microphone (a fake sounddevice)


class FakeInputStream:
    def __init__(self, module, device, channels, samplerate, dtype, blocksize, callback):
        assert channels == 1 and dtype == "float32"
        self.module, self.device, self.samplerate, self.blocksize = module, device, samplerate, blocksize
        self.callback = callback
        self.closed = False
        self._stop = threading.Event()
        module.streams.append(self)

    def start(self):
        def run():
            buffer = np.empty((self.blocksize, 1), np.float32)  # reused, as PortAudio does
            signal = self.module.signal
            for i in range(0, len(signal) - self.blocksize + 1, self.blocksize):
                if self._stop.is_set():
                    break
                buffer[:, 0] = signal[i:i + self.blocksize]
                self.callback(buffer, self.blocksize, None, None)
            self.module.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self):
        self._stop.set()
        self.thread.join(5)

    def close(self):
        self.closed = True


@pytest.fixture
def fake_sounddevice(monkeypatch):
    sd = types.ModuleType("sounddevice")
    sd.signal, _ = click_track(44100, 2.0)
    sd.done = threading.Event()
    sd.streams = []

    class PortAudioError(Exception):
        pass

    def query_devices(device=None, kind=None):
        assert kind == "input"
        if device in (None, 2, "USB"):
            return {"name": "USB Audio", "default_samplerate": 44100.0, "max_input_channels": 1}
        raise ValueError(f"No input device matching {device!r}")

    sd.PortAudioError = PortAudioError
    sd.query_devices = query_devices
    sd.InputStream = lambda **kw: FakeInputStream(sd, **kw)
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    return sd


def test_microphone_chunks_on_the_monotonic_clock(fake_sounddevice):
    sd = fake_sounddevice
    before = time.monotonic()
    with MicAudioSource("2", block_seconds=0.05) as mic:
        assert sd.streams[0].device == 2  # "2" is an index
        assert mic.live and mic.sample_rate == 44100 and sd.streams[0].blocksize == 2205
        assert mic.description == "microphone 'USB Audio' (44100 Hz)"
        assert sd.done.wait(5)
        after = time.monotonic()
        chunks = mic.read_until(0.0)
        assert mic.read_until(0.0) == []
    assert sd.streams[0].closed
    assert all(b.t > a.t for a, b in zip(chunks, chunks[1:]))
    assert all(before - c.duration <= c.t <= after for c in chunks)
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]),
                                  sd.signal[:len(chunks) * 2205])
    assert len(chunks) == len(sd.signal) // 2205 and mic.dropped_seconds == 0.0


def test_microphone_buffer_drops_the_oldest(fake_sounddevice):
    sd = fake_sounddevice
    mic = MicAudioSource(None, sample_rate=44100, max_seconds=0.5)
    assert sd.done.wait(5)
    kept = np.concatenate([c.samples for c in mic.read_until(0.0)])
    mic.close()
    mic.close()
    delivered = (len(sd.signal) // 2205) * 2205
    assert len(kept) == 22050
    np.testing.assert_array_equal(kept, sd.signal[delivered - 22050:delivered])
    assert mic.dropped_seconds == pytest.approx((delivered - 22050) / 44100)


def test_no_such_microphone(fake_sounddevice):
    with pytest.raises(AudioError, match="no microphone") as info:
        MicAudioSource("nosuch")
    assert "\n" not in str(info.value)
    source, note = open_audio(mic="nosuch")
    assert source is None
    assert note.startswith("no audio: no microphone (") and note.endswith("; going on with pose only")
    source, note = open_audio(mic="default")
    assert isinstance(source, MicAudioSource) and note is None
    source.close()


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """What ``import sounddevice`` does when the PortAudio library is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_microphone_without_portaudio_is_a_clean_note(monkeypatch):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    with pytest.raises(AudioError, match=r"apt install libportaudio2") as info:
        MicAudioSource()
    assert "\n" not in str(info.value)
    assert open_audio(mic="", video="ignored.mp4") == (
        None, "no audio: no microphone (PortAudio not found: apt install libportaudio2); going on with pose only")


def test_microphone_without_sounddevice_is_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    assert open_audio(mic="USB") == (
        None, "no audio: sounddevice is not installed (pip install 'edgerec[audio]'); going on with pose only")


# --------------------------------------------------------------------------------------
# The shared data


def test_real_video_sound_track_matches_its_frames(data_root):
    video = data_root / "realvideo" / "salsa" / "ana_salsa_overlay.mp4"
    if not video.is_file():
        pytest.skip(f"{video} not found (the shared data has no salsa overlay video)")
    pytest.importorskip("av")
    with VideoAudioSource(str(video)) as src:
        chunks = read_all(src, step=2.0)
    assert_contiguous(chunks)
    assert abs(chunks[0].t) < 0.1
    assert abs(sum(c.duration for c in chunks) - 439 / 30) < 0.2


def test_real_song_is_read_in_blocks(data_root):
    songs = sorted((data_root / "music2dance").glob("DANCE_*/audio.opus"))
    if not songs:
        pytest.skip(f"no music2dance songs under {data_root}")
    with FileAudioSource(songs[0]) as src:
        chunks = src.read_until(3.0)
        assert src.sample_rate == 24000 and not src.exhausted
    assert_contiguous(chunks)
    assert 3.0 <= chunks[-1].end <= 3.0 + LOOKAHEAD + 0.5  # one block of 0.5 s at most beyond
