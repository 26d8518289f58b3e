"""Audio sources: a video's sound track, an audio file or a microphone, behind one interface.

Every source returns :class:`AudioChunk` objects (mono float32 samples at the source's own
rate) stamped on the same clock as the frames of :mod:`edge.sources.frames`, so the runtime
can line sound up with pose without knowing where either came from:

* a video file's sound track: media time, with ``t = 0`` at the first video frame (the
  clock of OpenCV's ``CAP_PROP_POS_MSEC``, which :class:`~edge.sources.frames.VideoSource`
  uses);
* an audio file (``--audio FILE``, beside ``--poses``): ``t = 0`` at its first sample;
* live sources (a microphone, a network stream's sound track): ``time.monotonic()``, the
  clock of the camera frames.

**Files are read on demand.** :meth:`AudioSource.read_until` decodes just far enough to cover
the time asked for, in order, dropping nothing, so a long file is never held in memory.

**Live sources drop the oldest sound.** A capture thread (a stream) or PortAudio's callback
(a microphone) appends to a buffer holding at most ``max_seconds``; when the pipeline does
not read for longer than that, the oldest samples are discarded and counted in
:attr:`AudioSource.dropped_seconds`, so memory stays bounded and what is read is recent.

PyAV (``av``) and sounddevice come with the ``audio`` extra, soundfile with ``edge``; all are
imported only when a source needs them. :func:`open_audio` turns a missing library, a video
without a sound track or a missing microphone into a one-line note rather than a failure:
sound is an extra, and the run goes on with pose only.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from edge.core.errors import Expected
from edge.core.optional import MissingDependency, require
from edge.sources.frames import LIVE_SCHEMES

#: A file source returns every chunk starting before ``t + LOOKAHEAD`` (seconds), so that a
#: caller asking for ``t`` never misses the chunk that straddles it.
LOOKAHEAD = 0.05

_FIX_PORTAUDIO = "install PortAudio (apt install libportaudio2)"


class AudioError(RuntimeError, Expected):
    """A sound source cannot be opened or read; the message is one line naming the fix.

    ``note`` is the shorter reason :func:`open_audio` puts in its "no audio: ..." line.
    """

    def __init__(self, message: str, note: Optional[str] = None) -> None:
        super().__init__(message)
        self.note = note or message


class NoSoundTrack(AudioError):
    """The video or stream has no audio stream."""

    def __init__(self, target: str) -> None:
        super().__init__(f"{target} has no sound track; give --audio FILE or --mic for sound, or --no-audio",
                         note=f"{target} has no sound track")


@dataclass(frozen=True)
class AudioChunk:
    """Consecutive mono samples (float32, 1-D) and the time of the first one, in seconds."""

    samples: np.ndarray
    sample_rate: int
    t: float

    @property
    def duration(self) -> float:
        """Seconds of sound in the chunk."""
        return len(self.samples) / self.sample_rate

    @property
    def end(self) -> float:
        """The time just after the last sample (where the next chunk starts)."""
        return self.t + self.duration


class AudioSource:
    """Base class: ``read_until(t)`` returns the new chunks; ``close()`` releases the file or device."""

    #: Human-readable description, for logs and the summary.
    description: str = ""
    #: Samples per second of every chunk.
    sample_rate: int = 0
    #: True for sources where sound arrives in real time (microphones, streams).
    live: bool = False
    #: True once a file (or a stream that ended) has been read to the end.
    exhausted: bool = False
    #: Seconds of sound a live source discarded because nobody read them in time.
    dropped_seconds: float = 0.0

    def read_until(self, t: float) -> list[AudioChunk]:
        """The chunks not returned before, in order.

        Files: every chunk starting before ``t + LOOKAHEAD``, decoded now (so the chunks
        returned cover up to at least ``t`` unless the file ended). Live sources: whatever
        arrived since the last call, without waiting; ``t`` is not used.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release the file or device (idempotent)."""

    def __enter__(self) -> "AudioSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ChunkBuffer:
    """A thread-safe queue of chunks holding at most ``max_seconds`` of sound; the oldest
    samples go first (counted in ``dropped_seconds``)."""

    def __init__(self, max_seconds: float, sample_rate: int) -> None:
        self._max = max(1, int(round(max_seconds * sample_rate)))
        self._chunks: deque[AudioChunk] = deque()
        self._held = 0
        self._lock = threading.Lock()
        self.dropped_seconds = 0.0

    def push(self, chunk: AudioChunk) -> None:
        with self._lock:
            self._chunks.append(chunk)
            self._held += len(chunk.samples)
            while self._held > self._max:
                oldest = self._chunks[0]
                excess = self._held - self._max
                if len(oldest.samples) <= excess:
                    self._chunks.popleft()
                    cut = len(oldest.samples)
                else:  # keep the newest part of the oldest chunk
                    cut = excess
                    self._chunks[0] = AudioChunk(oldest.samples[cut:], oldest.sample_rate,
                                                 oldest.t + cut / oldest.sample_rate)
                self._held -= cut
                self.dropped_seconds += cut / oldest.sample_rate

    def drain(self) -> list[AudioChunk]:
        with self._lock:
            out = list(self._chunks)
            self._chunks.clear()
            self._held = 0
            return out


def _av() -> Any:
    return require("av", "audio", "av")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc or type(exc).__name__)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class VideoAudioSource(AudioSource):
    """The sound track of a video file, an HTTP(S) URL or a live stream, decoded by PyAV.

    It opens its own container, independent of OpenCV's decoding of the frames, and reads the
    first audio stream as mono float32 at the stream's own rate (channels averaged, as
    :func:`edge.features.audio.load_audio` does). Timestamps are the media time minus the
    first video stream's start time, so ``t = 0`` is the first video frame as OpenCV reports
    it (PyAV's pts already account for the encoder's priming samples: AAC's 1024, Opus's
    pre-skip). When a frame has no pts, time continues from the previous chunk's end.

    ``live`` (default: the URL starts with one of :data:`~edge.sources.frames.LIVE_SCHEMES`):
    a daemon thread decodes as sound arrives into a buffer of ``max_seconds``, and chunks
    are stamped ``time.monotonic()`` at arrival minus their duration (the camera's clock).
    """

    def __init__(self, path_or_url: str | os.PathLike, *, live: Optional[bool] = None,
                 max_seconds: float = 10.0, timeout: float = 10.0) -> None:
        av = _av()
        self.target = str(path_or_url)
        is_url = "://" in self.target
        self.live = self.target.lower().startswith(LIVE_SCHEMES) if live is None else bool(live)
        self.exhausted = False
        self.dropped_seconds = 0.0
        self._container: Any = None
        self._chunks: Optional[Iterator[AudioChunk]] = None
        self._pending: Optional[AudioChunk] = None
        self._thread: Optional[threading.Thread] = None
        self._stop = False
        self._error: Optional[AudioError] = None
        if not is_url and not Path(self.target).is_file():
            raise AudioError(f"cannot read the sound track of {self.target}: file not found; check the path",
                             note=f"{self.target} not found")
        try:
            self._container = av.open(self.target, "r", timeout=timeout if is_url else None)
        # UnicodeDecodeError: PyAV decodes a damaged container's metadata as UTF-8
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            reason = _first_line(exc)
            raise AudioError(f"cannot read the sound track of {self.target}: {reason}; check that it is a "
                             "video file or stream FFmpeg can read",
                             note=f"cannot read the sound track of {self.target} ({reason})") from None
        if not self._container.streams.audio:
            self._container.close()
            raise NoSoundTrack(self.target)
        self._stream = self._container.streams.audio[0]
        rate = self._stream.codec_context.sample_rate or self._stream.rate
        if not rate:
            self._container.close()
            raise AudioError(f"cannot read the sound track of {self.target}: its sample rate is unknown; "
                             "re-encode the sound (ffmpeg -i IN -c:v copy -c:a aac OUT)",
                             note=f"the sound track of {self.target} has no sample rate")
        self.sample_rate = int(rate)
        self._offset = 0.0
        if self._container.streams.video:
            video = self._container.streams.video[0]
            if video.start_time is not None and video.time_base is not None:
                self._offset = float(video.start_time * video.time_base)
        self.description = f"sound track of {self.target} ({self.sample_rate} Hz)"
        self._chunks = self._decode()
        if self.live:
            self._buffer = _ChunkBuffer(max_seconds, self.sample_rate)
            self._thread = threading.Thread(target=self._capture, name="edgerec-audio", daemon=True)
            self._thread.start()

    def _decode(self) -> Iterator[AudioChunk]:
        """Chunks on the media clock, one per decoded frame, packet by packet."""
        av = _av()
        # Planar float at the stream's rate, channels kept and averaged here: the downmix of
        # load_audio and librosa. FFmpeg's own (layout="mono") is (L + R) / sqrt(2), 3 dB
        # louder, which would shift the absolute-dB log-mel features.
        resampler = av.AudioResampler(format="fltp", rate=self.sample_rate)
        next_t = 0.0

        def chunk(frame: Any) -> Optional[AudioChunk]:
            nonlocal next_t, resampler
            try:
                out = resampler.resample(frame)
            except ValueError:  # the layout or rate changed mid-stream: start again from this frame
                resampler = av.AudioResampler(format="fltp", rate=self.sample_rate)
                out = resampler.resample(frame)
            planes = [o.to_ndarray() for o in out]  # (channels, samples) each
            n = sum(p.shape[1] for p in planes)
            if n == 0:
                return None
            t = next_t
            if frame is not None and frame.pts is not None and frame.time_base is not None:
                t = float(frame.pts * frame.time_base) - self._offset
            next_t = t + n / self.sample_rate
            mono = [p.mean(axis=0, dtype=np.float32) if p.shape[0] > 1 else p[0] for p in planes]
            return AudioChunk(np.concatenate(mono).astype(np.float32, copy=False), self.sample_rate, t)

        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()  # the last, empty packet flushes the decoder
                except av.error.InvalidDataError:  # a damaged packet: skip it, as FFmpeg does
                    continue
                for frame in frames:
                    c = chunk(frame)
                    if c is not None:
                        yield c
            c = chunk(None)  # what the resampler still holds
            if c is not None:
                yield c
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise AudioError(f"cannot read the sound track of {self.target}: {_first_line(exc)}; check the "
                             "file or the connection") from None

    def _capture(self) -> None:
        chunks, container = self._chunks, self._container
        assert chunks is not None
        try:
            for c in chunks:
                if self._stop:
                    break
                self._buffer.push(replace(c, t=time.monotonic() - c.duration))
        except AudioError as exc:
            self._error = exc
        except BaseException as exc:  # noqa: BLE001 - surfaced to the reader
            self._error = AudioError(f"{self.description}: reading failed ({_first_line(exc)}); check the stream")
        finally:
            chunks.close()  # type: ignore[attr-defined]
            container.close()

    def read_until(self, t: float) -> list[AudioChunk]:
        if self.live:
            ended = self._thread is not None and not self._thread.is_alive()  # before draining: nothing after
            out = self._buffer.drain()
            self.dropped_seconds = self._buffer.dropped_seconds
            if ended and not out:
                self.exhausted = True
                error, self._error = self._error, None
                if error is not None:
                    raise error
            return out
        out: list[AudioChunk] = []
        while not self.exhausted:
            chunk, self._pending = self._pending, None
            if chunk is None:
                chunk = next(self._chunks, None) if self._chunks is not None else None
            if chunk is None:
                self.exhausted = True
                break
            if chunk.t >= t + LOOKAHEAD:
                self._pending = chunk
                break
            out.append(chunk)
        return out

    def close(self) -> None:
        if self._thread is not None:
            self._stop = True
            # the thread closes the container itself: closing it under a blocked read crashes FFmpeg
            self._thread.join(timeout=2.0)
            self._thread = None
            return
        if self._chunks is not None:
            self._chunks.close()  # type: ignore[attr-defined]
            self._chunks = None
        if self._container is not None:
            self._container.close()
            self._container = None


class FileAudioSource(AudioSource):
    """An audio file (WAV, FLAC, OGG/Vorbis/Opus, MP3, ...) read by soundfile in blocks of
    ``block_seconds``, downmixed to mono; ``t = 0`` is its first sample."""

    def __init__(self, path: str | os.PathLike, *, block_seconds: float = 0.5) -> None:
        self.path = Path(path)
        self._file: Any = None
        if not self.path.is_file():
            problem = "is a folder, not a file" if self.path.is_dir() else "audio file not found"
            raise AudioError(f"{self.path}: {problem}; check the path given to --audio")
        sf = require("soundfile", "edge", "soundfile")
        try:
            self._file = sf.SoundFile(str(self.path))
        except (RuntimeError, OSError, ValueError) as exc:
            raise AudioError(f"{self.path}: cannot read this audio file ({_first_line(exc)}); give a WAV, FLAC, "
                             "OGG or MP3 file") from None
        self.sample_rate = int(self._file.samplerate)
        self._block = max(1, int(round(block_seconds * self.sample_rate)))
        self._pos = 0
        self.exhausted = False
        self.dropped_seconds = 0.0
        self.description = f"audio file {self.path} ({self.sample_rate} Hz)"

    def read_until(self, t: float) -> list[AudioChunk]:
        out: list[AudioChunk] = []
        while self._file is not None and not self.exhausted and self._pos / self.sample_rate < t + LOOKAHEAD:
            try:
                block = self._file.read(frames=self._block, dtype="float32", always_2d=True)
            except (RuntimeError, OSError, ValueError) as exc:
                raise AudioError(f"{self.path}: reading failed at {self._pos / self.sample_rate:.2f} s "
                                 f"({_first_line(exc)}); the file may be truncated") from None
            if len(block) == 0:
                self.exhausted = True
                break
            mono = block[:, 0].copy() if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
            out.append(AudioChunk(mono, self.sample_rate, self._pos / self.sample_rate))
            self._pos += len(block)
            if len(block) < self._block or 0 < self._file.frames <= self._pos:
                self.exhausted = True
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _sounddevice() -> Any:
    """sounddevice, or :class:`AudioError` when PortAudio itself is missing (an OSError on
    import, not an ImportError, so :func:`require` lets it through)."""
    try:
        return require("sounddevice", "audio", "sounddevice")
    except OSError as exc:
        raise AudioError(f"no microphone: PortAudio not found ({_first_line(exc)}); {_FIX_PORTAUDIO}, or use "
                         "--audio FILE",
                         note="no microphone (PortAudio not found: apt install libportaudio2)") from None


class MicAudioSource(AudioSource):
    """A microphone through sounddevice/PortAudio (ALSA on a Raspberry Pi).

    ``device``: None for the default input, an index (``2`` or ``"2"``) or a part of the
    name (``"USB"``), as sounddevice accepts. ``sample_rate`` None: the device's default.
    Capture starts at once; PortAudio's callback stamps each block ``time.monotonic()``
    minus its duration, and keeps at most ``max_seconds`` until read.
    """

    live = True

    def __init__(self, device: str | int | None = None, *, sample_rate: Optional[int] = None,
                 block_seconds: float = 0.05, max_seconds: float = 10.0) -> None:
        sd = _sounddevice()
        self._stream: Any = None
        self.exhausted = False
        self.dropped_seconds = 0.0
        dev: Any = int(device) if isinstance(device, str) and device.strip().isdigit() else device
        portaudio_error = getattr(sd, "PortAudioError", OSError)
        try:
            info = sd.query_devices(dev, kind="input")
            self.sample_rate = int(sample_rate or round(float(info["default_samplerate"])))
            self.name = str(info["name"])
            self._buffer = _ChunkBuffer(max_seconds, self.sample_rate)
            self._stream = sd.InputStream(device=dev, channels=1, samplerate=self.sample_rate, dtype="float32",
                                          blocksize=max(1, int(round(block_seconds * self.sample_rate))),
                                          callback=self._callback)
            self._stream.start()
        except (ValueError, OSError, portaudio_error) as exc:
            self.close()
            which = "no default input device" if dev is None else f"no input device {device!s} opens"
            reason = f"{which} ({_first_line(exc)})"
            raise AudioError(f"no microphone: {reason}; plug one in (arecord -l lists them) or give --mic "
                             "INDEX|NAME (python -m sounddevice lists them)",
                             note=f"no microphone ({reason})") from None
        self.description = f"microphone '{self.name}' ({self.sample_rate} Hz)"

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        # copy: PortAudio reuses indata for the next block
        samples = np.array(indata[:, 0] if indata.ndim == 2 else indata, dtype=np.float32)
        self._buffer.push(AudioChunk(samples, self.sample_rate, now - frames / self.sample_rate))

    def read_until(self, t: float) -> list[AudioChunk]:
        out = self._buffer.drain()
        self.dropped_seconds = self._buffer.dropped_seconds
        return out

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()


def _no_audio(reason: str) -> str:
    return f"no audio: {reason}; going on with pose only"


def open_audio(*, video: Optional[str] = None, audio_file: Optional[str] = None, mic: Optional[str] = None,
               no_audio: bool = False) -> tuple[Optional[AudioSource], Optional[str]]:
    """The sound source the CLI options name, and a one-line note when there is none.

    Priority: ``no_audio`` (no source, no note), ``audio_file``, ``mic``, then the sound
    track of ``video``. A missing library, a video without a sound track or a missing
    microphone gives ``(None, "no audio: ...; going on with pose only")``; only an audio file
    the user named that is missing or unreadable raises :class:`AudioError`. ``mic`` ``""``
    or ``"default"`` is the default input. Nothing named: ``(None, None)``.
    """
    if no_audio:
        return None, None
    try:
        if audio_file is not None:
            return FileAudioSource(audio_file), None
        if mic is not None:
            return MicAudioSource(None if mic.strip().lower() in ("", "default") else mic), None
        if video is not None:
            return VideoAudioSource(video), None
    except MissingDependency:
        name = ("soundfile", "edge") if audio_file is not None else (
            ("sounddevice", "audio") if mic is not None else ("PyAV", "audio"))
        return None, _no_audio(f"{name[0]} is not installed (pip install 'edgerec[{name[1]}]')")
    except AudioError as exc:
        if audio_file is not None:
            raise
        return None, _no_audio(exc.note)
    return None, None
