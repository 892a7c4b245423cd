//! Reading and writing WAV files. Input at another sample rate is resampled
//! (never refused, within [`INPUT_RATE_RANGE`]); output is written to a
//! temporary file and renamed into place when complete, so an interrupted
//! render never leaves half a file under the final name.

mod resample;

pub use resample::resample;

use hound::{SampleFormat, WavSpec, WavWriter};
use std::fs::File;
use std::io::BufWriter;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// Sample rates, in Hz, an input file may declare. 768 kHz is the highest
/// rate converters record at; below 1 kHz nothing musical is left. A
/// header outside this range is damaged (or made up), and resampling
/// from it would take time and memory out of all proportion.
pub const INPUT_RATE_RANGE: RangeInclusive<u32> = 1_000..=768_000;

/// Read a WAV file as mono (channels averaged), resampled to `sample_rate`.
pub fn read_mono(path: &Path, sample_rate: u32) -> Result<Vec<f32>, String> {
    let shown = path.display();
    let mut reader = hound::WavReader::open(path).map_err(|e| match e {
        hound::Error::IoError(io) => format!("cannot read {shown}: {io}"),
        other => format!("{shown}: not a readable WAV file ({other})"),
    })?;
    let spec = reader.spec();
    if !INPUT_RATE_RANGE.contains(&spec.sample_rate) {
        return Err(format!(
            "{shown}: sample rate {} Hz is out of range ({} to {} Hz)",
            spec.sample_rate,
            INPUT_RATE_RANGE.start(),
            INPUT_RATE_RANGE.end()
        ));
    }
    let channels = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{shown}: damaged WAV data ({e})"))?,
        SampleFormat::Int => {
            let scale = int_scale(spec.bits_per_sample);
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{shown}: damaged WAV data ({e})"))?
        }
    };
    let mono: Vec<f32> = interleaved.chunks(channels).map(|frame| mono_of(frame, channels)).collect();
    if spec.sample_rate == sample_rate {
        Ok(mono)
    } else {
        resample(&mono, spec.sample_rate, sample_rate)
            .map_err(|e| format!("{shown}: cannot resample from {} Hz: {e}", spec.sample_rate))
    }
}

/// One frame of `channels` samples as one mono sample: the average, with
/// non-finite samples counted as silence.
pub(crate) fn mono_of(frame: &[f32], channels: usize) -> f32 {
    let sum: f32 = frame.iter().map(|s| if s.is_finite() { *s } else { 0.0 }).sum();
    sum / channels as f32
}

/// The factor that maps a `bits`-bit integer sample to the range ±1.
pub(crate) fn int_scale(bits: u16) -> f32 {
    1.0 / (1u64 << (bits.clamp(1, 32) - 1)) as f32
}

/// Sample formats `--bits` may choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitDepth {
    Int16,
    Int24,
    Float32,
}

impl BitDepth {
    pub fn from_bits(bits: u16) -> Option<BitDepth> {
        match bits {
            16 => Some(BitDepth::Int16),
            24 => Some(BitDepth::Int24),
            32 => Some(BitDepth::Float32),
            _ => None,
        }
    }

    fn spec(self, channels: u16, sample_rate: u32) -> WavSpec {
        let (bits_per_sample, sample_format) = match self {
            BitDepth::Int16 => (16, SampleFormat::Int),
            BitDepth::Int24 => (24, SampleFormat::Int),
            BitDepth::Float32 => (32, SampleFormat::Float),
        };
        WavSpec { channels, sample_rate, bits_per_sample, sample_format }
    }
}

/// A WAV file being written block by block under a temporary name.
pub struct WavOut {
    writer: Option<WavWriter<BufWriter<File>>>,
    depth: BitDepth,
    temporary: PathBuf,
    path: PathBuf,
    /// State of the triangular dither for 16-bit output (deterministic).
    dither: crate::engine::noise::Rng,
}

impl WavOut {
    pub fn create(path: &Path, channels: u16, sample_rate: u32, depth: BitDepth) -> Result<WavOut, String> {
        let temporary = temporary_name(path);
        let writer = WavWriter::create(&temporary, depth.spec(channels, sample_rate))
            .map_err(|e| format!("cannot write {}: {}", path.display(), io_message(e)))?;
        Ok(WavOut {
            writer: Some(writer),
            depth,
            temporary,
            path: path.to_path_buf(),
            dither: crate::engine::noise::Rng::new(0x6469_7468),
        })
    }

    /// Append frames; `channels` slices of equal length, interleaved on write.
    pub fn write(&mut self, channels: &[&[f32]]) -> Result<(), String> {
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        let fail = |e: hound::Error| format!("cannot write {}: {}", self.path.display(), io_message(e));
        for i in 0..frames {
            for channel in channels {
                let x = channel[i].clamp(-1.0, 1.0);
                match self.depth {
                    BitDepth::Float32 => writer.write_sample(x).map_err(fail)?,
                    BitDepth::Int24 => writer.write_sample((x * 8_388_607.0).round() as i32).map_err(fail)?,
                    BitDepth::Int16 => {
                        // TPDF dither of ±1 LSB keeps quiet tails from turning into distortion.
                        let d = (self.dither.uniform() - self.dither.uniform()) as f32;
                        let v = (x * 32_767.0 + d).round().clamp(-32_768.0, 32_767.0) as i16;
                        writer.write_sample(v).map_err(fail)?
                    }
                }
            }
        }
        Ok(())
    }

    /// Finish the header and move the file into place.
    pub fn finish(mut self) -> Result<PathBuf, String> {
        if let Some(writer) = self.writer.take() {
            writer
                .finalize()
                .map_err(|e| format!("cannot write {}: {}", self.path.display(), io_message(e)))?;
        }
        std::fs::rename(&self.temporary, &self.path)
            .map_err(|e| format!("cannot move the finished file to {}: {e}", self.path.display()))?;
        Ok(self.path.clone())
    }
}

impl Drop for WavOut {
    fn drop(&mut self) {
        // Unfinished (an error happened): remove the temporary, keep any old file.
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

fn temporary_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

fn io_message(e: hound::Error) -> String {
    match e {
        hound::Error::IoError(io) => io.to_string(),
        other => other.to_string(),
    }
}
