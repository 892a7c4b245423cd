//! Streams longer than one WAV file can hold, cut into segment files.
//!
//! A WAV file states its sizes in 32-bit fields, so it holds at most about
//! 4 GiB: 6.2 hours of mono 32-bit float at 48 kHz, 3.1 hours of stereo. A
//! stream that reaches its segment limit closes its file (final header) and
//! goes on in the next one:
//!
//! ```text
//! mix.wav  mix.002.wav  mix.003.wav …      track-01.wav  track-01.002.wav …
//! ```
//!
//! The first segment keeps the plain name, so a stream that fits in one file
//! looks exactly like a single WAV. Every segment but the last holds exactly
//! the segment limit in frames; all segments of one stream share its format.
//! Readers go through [`SegmentReader`] (or [`segment_paths`]) and see one
//! continuous stream.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader};

use super::stream::StreamWav;

/// Bytes before the samples in a float WAV as hound writes it: RIFF header
/// (12), `fmt ` chunk in the WAVE_FORMAT_EXTENSIBLE form (8 + 40) and the
/// `data` chunk header (8).
pub const WAV_HEADER_BYTES: u64 = 68;
/// Most sample bytes one WAV can describe: the RIFF size field (32 bits)
/// counts everything after its own first 8 bytes, header included.
pub const MAX_WAV_DATA_BYTES: u64 = u32::MAX as u64 - (WAV_HEADER_BYTES - 8);
/// Bytes in one frame of the widest stream a take writes (the stereo mix,
/// 32-bit float).
const WIDEST_FRAME_BYTES: u64 = 2 * 4;
/// Frames per segment unless configured otherwise: the most whole frames of
/// the widest stream that fit in one WAV (536 870 904 frames, 3 h 6 min at
/// 48 kHz). All the streams of one take share the limit, so their segment
/// N begins at the same frame of the take.
pub const DEFAULT_SEGMENT_FRAMES: u64 = MAX_WAV_DATA_BYTES / WIDEST_FRAME_BYTES;

/// The most whole frames of `channels` 32-bit channels one WAV can hold.
pub fn max_segment_frames(channels: u16) -> u64 {
    MAX_WAV_DATA_BYTES / (4 * u64::from(channels.max(1)))
}

/// The path of segment `index` (1-based) of the stream whose first segment
/// is `first`: `mix.wav`, then `mix.002.wav`, `mix.003.wav`… (more digits
/// past 999).
pub fn segment_path(first: &Path, index: u32) -> PathBuf {
    if index <= 1 {
        return first.to_path_buf();
    }
    let stem = first.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match first.extension() {
        Some(ext) => format!("{stem}.{index:03}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{index:03}"),
    };
    first.with_file_name(name)
}

/// The segments of a stream that exist, in order (empty when the first
/// does not). A missing segment ends the stream.
pub fn segment_paths(first: &Path) -> Vec<PathBuf> {
    (1..).map(|i| segment_path(first, i)).take_while(|p| p.is_file()).collect()
}

/// Frames in a stream, over all its segments (after a crash: up to each
/// segment's last header rewrite).
pub fn stream_frames(first: &Path) -> Result<u64, String> {
    let paths = segment_paths(first);
    if paths.is_empty() {
        return Err(format!("cannot read {}: no such file", first.display()));
    }
    paths.iter().map(|p| if is_empty(p) { Ok(0) } else { open(p).map(|r| u64::from(r.duration())) }).sum()
}

/// A file created the instant before a crash, before its header: no frames.
fn is_empty(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
}

fn open(path: &Path) -> Result<WavReader<BufReader<File>>, String> {
    WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(io) => format!("cannot read {}: {io}", path.display()),
        other => format!("{}: not a readable WAV file ({other})", path.display()),
    })
}

/// A 32-bit float stream written as it grows, in segment files of at most
/// `segment_frames` frames each. See the module docs for the names.
pub(crate) struct SegmentedWav {
    first: PathBuf,
    channels: u16,
    sample_rate: u32,
    /// Frames per segment (never more than one WAV can hold).
    limit: u64,
    /// 1-based number of the segment being written.
    index: u32,
    /// Frames in the segment being written.
    in_segment: u64,
    /// `None` once an error gave the stream up.
    current: Option<StreamWav>,
    /// Written under hidden names (`.mix.wav.partial`) until [`commit`](Self::commit).
    hidden: bool,
}

impl SegmentedWav {
    /// Start the stream at `first` (its first segment is created now).
    pub(crate) fn create(
        first: &Path,
        channels: u16,
        sample_rate: u32,
        segment_frames: u64,
    ) -> Result<SegmentedWav, String> {
        Self::start(first, channels, sample_rate, segment_frames, false)
    }

    /// As [`create`](Self::create), but every segment is written under a
    /// hidden temporary name and moved into place by [`commit`](Self::commit);
    /// until then, files already at the final names are untouched.
    pub(crate) fn create_hidden(
        first: &Path,
        channels: u16,
        sample_rate: u32,
        segment_frames: u64,
    ) -> Result<SegmentedWav, String> {
        Self::start(first, channels, sample_rate, segment_frames, true)
    }

    fn start(
        first: &Path,
        channels: u16,
        sample_rate: u32,
        segment_frames: u64,
        hidden: bool,
    ) -> Result<SegmentedWav, String> {
        let limit = segment_frames.clamp(1, max_segment_frames(channels));
        let mut wav = SegmentedWav {
            first: first.to_path_buf(),
            channels,
            sample_rate,
            limit,
            index: 1,
            in_segment: 0,
            current: None,
            hidden,
        };
        wav.current = Some(StreamWav::create(&wav.written_path(1), channels, sample_rate)?);
        Ok(wav)
    }

    fn written_path(&self, index: u32) -> PathBuf {
        let path = segment_path(&self.first, index);
        if self.hidden {
            hidden_name(&path)
        } else {
            path
        }
    }

    /// Append frames, one slice per channel (equal lengths).
    pub(crate) fn write(&mut self, channels: &[&[f32]]) -> Result<(), String> {
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut done = 0;
        while done < frames {
            let n = self.room()?.min(frames - done);
            if n == frames {
                self.stream()?.write(channels)?;
            } else {
                // Only where a block straddles a segment boundary.
                let part: Vec<&[f32]> = channels.iter().map(|c| &c[done..done + n]).collect();
                self.stream()?.write(&part)?;
            }
            self.in_segment += n as u64;
            done += n;
        }
        Ok(())
    }

    /// Append `frames` frames of silence.
    pub(crate) fn write_silence(&mut self, frames: u64) -> Result<(), String> {
        let mut left = frames;
        while left > 0 {
            let n = (self.room()? as u64).min(left);
            self.stream()?.write_silence(n)?;
            self.in_segment += n;
            left -= n;
        }
        Ok(())
    }

    /// Whether writing `frames` more frames closes the current segment.
    pub(crate) fn crosses_segment(&self, frames: u64) -> bool {
        self.in_segment + frames > self.limit
    }

    /// Frames the current segment still takes, after moving on to the next
    /// segment if this one is full.
    fn room(&mut self) -> Result<usize, String> {
        if self.in_segment >= self.limit {
            let full = self.current.take().ok_or_else(|| self.given_up())?;
            full.close()?;
            let next = self.written_path(self.index + 1);
            self.current = Some(StreamWav::create(&next, self.channels, self.sample_rate)?);
            self.index += 1;
            self.in_segment = 0;
        }
        Ok((self.limit - self.in_segment).min(usize::MAX as u64) as usize)
    }

    fn stream(&mut self) -> Result<&mut StreamWav, String> {
        let given_up = self.given_up();
        self.current.as_mut().ok_or(given_up)
    }

    fn given_up(&self) -> String {
        format!("{}: stream closed after an earlier error", self.first.display())
    }

    /// Write buffered samples and a header that covers them (earlier
    /// segments are already final).
    pub(crate) fn flush(&mut self) -> Result<(), String> {
        self.stream()?.flush()
    }

    /// Final header on the last segment; the stream is complete.
    pub(crate) fn close(mut self) -> Result<(), String> {
        match self.current.take() {
            Some(wav) => wav.close(),
            None => Err(self.given_up()),
        }
    }

    /// Close a hidden stream and move its segments to their final names,
    /// removing later segments a previous, longer stream left there.
    /// Returns the final paths.
    pub(crate) fn commit(mut self) -> Result<Vec<PathBuf>, String> {
        let segments = self.index;
        if let Some(wav) = self.current.take() {
            wav.close()?;
        }
        let mut paths = Vec::new();
        for index in 1..=segments {
            let (from, to) =
                (hidden_name(&segment_path(&self.first, index)), segment_path(&self.first, index));
            if self.hidden {
                std::fs::rename(&from, &to)
                    .map_err(|e| format!("cannot move the finished file to {}: {e}", to.display()))?;
            }
            paths.push(to);
        }
        self.hidden = false;
        for stale in (segments + 1..).map(|i| segment_path(&self.first, i)).take_while(|p| p.is_file()) {
            std::fs::remove_file(&stale).map_err(|e| format!("cannot remove {}: {e}", stale.display()))?;
        }
        Ok(paths)
    }
}

impl Drop for SegmentedWav {
    fn drop(&mut self) {
        // A hidden stream dropped without commit failed: remove its
        // temporaries, keep whatever was at the final names.
        if self.hidden {
            drop(self.current.take());
            for index in 1..=self.index {
                let _ = std::fs::remove_file(hidden_name(&segment_path(&self.first, index)));
            }
        }
    }
}

/// `.NAME.partial` beside `path`.
fn hidden_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// Reads a stream across its segments as mono at a fixed rate, a bounded
/// piece at a time (memory does not grow with the stream's length).
pub struct SegmentReader {
    first: PathBuf,
    sample_rate: u32,
    /// 1-based number of the open segment.
    index: u32,
    reader: Option<WavReader<BufReader<File>>>,
    /// Samples (not frames) left in the open segment.
    left: u64,
    /// One frame, interleaved, as read.
    frame: Vec<f32>,
}

impl SegmentReader {
    /// Open the stream whose first segment is `first`; its segments must be
    /// at `sample_rate` Hz.
    pub fn open(first: &Path, sample_rate: u32) -> Result<SegmentReader, String> {
        let mut reader = SegmentReader {
            first: first.to_path_buf(),
            sample_rate,
            index: 0,
            reader: None,
            left: 0,
            frame: Vec::new(),
        };
        if !reader.next_segment()? {
            return Err(format!("cannot read {}: no such file", first.display()));
        }
        Ok(reader)
    }

    /// Open the next segment; false when there is none.
    fn next_segment(&mut self) -> Result<bool, String> {
        let path = segment_path(&self.first, self.index + 1);
        if !path.is_file() || (self.index > 0 && is_empty(&path)) {
            self.reader = None;
            return Ok(false);
        }
        let reader = open(&path)?;
        let spec = reader.spec();
        if spec.sample_rate != self.sample_rate {
            return Err(format!(
                "{}: {} Hz, but the stream is at {} Hz",
                path.display(),
                spec.sample_rate,
                self.sample_rate
            ));
        }
        self.left = u64::from(reader.len());
        self.frame = vec![0.0; spec.channels.max(1) as usize];
        self.reader = Some(reader);
        self.index += 1;
        Ok(true)
    }

    /// Fill `out` with the next frames, mixed to mono as
    /// [`crate::wav::read_mono`] does. Returns how many were read: fewer
    /// than `out.len()` only at the end of the stream.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, String> {
        let mut done = 0;
        while done < out.len() {
            let channels = self.frame.len();
            if self.left < channels as u64 {
                if !self.next_segment()? {
                    break;
                }
                continue;
            }
            let Some(reader) = self.reader.as_mut() else { break };
            let n = ((out.len() - done) as u64).min(self.left / channels as u64) as usize;
            for x in &mut out[done..done + n] {
                for s in self.frame.iter_mut() {
                    *s = next_sample(reader).map_err(|e| {
                        format!("{}: damaged WAV data ({e})", segment_path(&self.first, self.index).display())
                    })?;
                }
                *x = crate::wav::mono_of(&self.frame, channels);
            }
            self.left -= (n * channels) as u64;
            done += n;
        }
        Ok(done)
    }
}

/// The next sample of any format as float (integers scaled to ±1).
fn next_sample(reader: &mut WavReader<BufReader<File>>) -> Result<f32, hound::Error> {
    let spec = reader.spec();
    let sample = match spec.sample_format {
        SampleFormat::Float => reader.samples::<f32>().next(),
        SampleFormat::Int => {
            let scale = crate::wav::int_scale(spec.bits_per_sample);
            reader.samples::<i32>().next().map(|s| s.map(|v| v as f32 * scale))
        }
    };
    sample.unwrap_or(Err(hound::Error::FormatError("the file ends early")))
}

/// A render's input streamed from a segmented journal (or take) input: the
/// engine gets it a block at a time. A read error turns the rest into
/// silence and is kept for the caller to report.
pub(crate) struct StreamedInput {
    reader: SegmentReader,
    /// Frames handed out so far.
    position: u64,
    ended: bool,
    pub(crate) error: Option<String>,
}

impl StreamedInput {
    pub(crate) fn new(reader: SegmentReader) -> StreamedInput {
        StreamedInput { reader, position: 0, ended: false, error: None }
    }
}

impl crate::render::InputSource for StreamedInput {
    fn fill(&mut self, position: u64, out: &mut [f32]) {
        debug_assert_eq!(position, self.position, "the input is read in order");
        let mut got = 0;
        if !self.ended {
            match self.reader.read(out) {
                Ok(n) => got = n,
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
            self.ended = got < out.len();
        }
        out[got..].fill(0.0);
        self.position += out.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrotape-segment-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn names_keep_the_first_segment_plain() {
        let first = Path::new("take/mix.wav");
        assert_eq!(segment_path(first, 1), first);
        assert_eq!(segment_path(first, 2), Path::new("take/mix.002.wav"));
        assert_eq!(segment_path(Path::new("track-01.wav"), 1000), Path::new("track-01.1000.wav"));
    }

    #[test]
    fn the_default_limit_fills_a_wav_to_within_one_frame() {
        // The header really is this long: an empty stereo float file.
        let dir = scratch("header");
        let path = dir.join("empty.wav");
        SegmentedWav::create(&path, 2, 48_000, 10).unwrap().close().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), WAV_HEADER_BYTES);
        let riff_size = WAV_HEADER_BYTES - 8 + DEFAULT_SEGMENT_FRAMES * WIDEST_FRAME_BYTES;
        assert!(riff_size <= u32::MAX as u64);
        assert!(riff_size + WIDEST_FRAME_BYTES > u32::MAX as u64, "one more frame would not fit");
        assert_eq!(DEFAULT_SEGMENT_FRAMES, 536_870_904);
        assert_eq!(max_segment_frames(1), 1_073_741_808);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stream_reads_back_across_its_segments() {
        let dir = scratch("roundtrip");
        let first = dir.join("input.wav");
        let samples: Vec<f32> = (0..2_500).map(|i| i as f32 * 1e-3 - 1.0).collect();
        let mut wav = SegmentedWav::create(&first, 1, 48_000, 1_000).unwrap();
        for chunk in samples.chunks(333) {
            wav.write(&[chunk]).unwrap();
        }
        wav.write_silence(700).unwrap();
        wav.close().unwrap();
        let paths = segment_paths(&first);
        assert_eq!(paths.len(), 4, "{paths:?}");
        assert_eq!(stream_frames(&first).unwrap(), 3_200);
        let mut reader = SegmentReader::open(&first, 48_000).unwrap();
        let mut back = vec![f32::NAN; 4_000];
        let mut got = 0;
        for piece in back.chunks_mut(777) {
            got += reader.read(piece).unwrap();
        }
        assert_eq!(got, 3_200);
        assert!(back[..2_500].iter().zip(&samples).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(back[2_500..3_200].iter().all(|&x| x == 0.0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hidden_stream_replaces_a_longer_one_only_when_committed() {
        let dir = scratch("hidden");
        let first = dir.join("again.wav");
        let mut old = SegmentedWav::create(&first, 1, 48_000, 10).unwrap();
        old.write(&[&[0.5; 35]]).unwrap();
        old.close().unwrap();
        assert_eq!(segment_paths(&first).len(), 4);
        let mut new = SegmentedWav::create_hidden(&first, 1, 48_000, 10).unwrap();
        new.write(&[&[0.25; 15]]).unwrap();
        assert_eq!(stream_frames(&first).unwrap(), 35, "the old stream is untouched until commit");
        let paths = new.commit().unwrap();
        assert_eq!(paths, segment_paths(&first));
        assert_eq!(stream_frames(&first).unwrap(), 15);
        let failed = SegmentedWav::create_hidden(&first, 1, 48_000, 10).unwrap();
        drop(failed);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 2, "no temporaries left: {names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
