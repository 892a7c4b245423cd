//! Sound cards and audio servers through cpal.
//!
//! Rules learned on real hosts: always ask for a fixed buffer size (the
//! default can be 16384 frames through ALSA plugins), never pause a stream
//! (null, file and JACK-plugin devices fail or flood the error callback),
//! and count the xrun JACK reports at start instead of treating it as a
//! failure. Device probing runs with stderr captured (see [`super::stderr`]).

use super::stderr::StderrCapture;
use super::{AudioBackend, AudioOptions, Handoff, Health, LiveProcessor, StreamSettings};
use crate::bridge::{InputWriter, LiveStats};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, Device, DeviceId, ErrorKind, FromSample, Host, HostId, Sample, SampleFormat, SizedSample,
    Stream, StreamConfig, StreamInstant, SupportedBufferSize,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::latency::{ClockOrigin, OutputTimes};
use super::SampleFormatChoice;

/// Why a running stream stopped: none, device gone, other failure.
const FAILURE_NONE: u32 = 0;
const FAILURE_DEVICE_GONE: u32 = 1;
const FAILURE_BACKEND: u32 = 2;
/// Input frames converted per step in the input callback.
const INPUT_SCRATCH: usize = 4096;

/// A chosen device and the configuration to open it with.
struct Opened {
    device: Device,
    config: StreamConfig,
    format: SampleFormat,
}

pub struct CpalBackend {
    options: AudioOptions,
    settings: StreamSettings,
    output: Opened,
    input: Option<Opened>,
    streams: Vec<Stream>,
    failure: Arc<AtomicU32>,
    stats: Option<Arc<LiveStats>>,
}

/// The host the options name: `--audio-host`, else the host of a device id
/// (`alsa:jack`), else JACK in `jack` builds, else the platform default.
fn choose_host(options: &AudioOptions) -> Result<Host, String> {
    let named = options.host.clone().or_else(|| {
        let device = options.device.as_deref()?;
        device.parse::<DeviceId>().ok().map(|id| id.host().to_string())
    });
    let id = match named {
        Some(name) => name.parse::<HostId>().map_err(|_| {
            format!("audio host `{name}` is not available in this build (hosts: {})", host_names().join(", "))
        })?,
        None => default_host_id(),
    };
    cpal::host_from_id(id).map_err(|e| format!("audio host {}: {e}", id.name()))
}

fn default_host_id() -> HostId {
    #[cfg(all(feature = "jack", any(target_os = "linux", target_os = "freebsd")))]
    {
        HostId::Jack
    }
    #[cfg(not(all(feature = "jack", any(target_os = "linux", target_os = "freebsd"))))]
    {
        cpal::default_host().id()
    }
}

fn host_names() -> Vec<String> {
    cpal::available_hosts().iter().map(|h| h.to_string()).collect()
}

/// A device by id (`alsa:jack`), exact id part (`jack`) or part of its name.
fn find_device(host: &Host, wanted: &str, output: bool) -> Option<Device> {
    if let Ok(id) = wanted.parse::<DeviceId>() {
        if id.host() == host.id() {
            if let Some(device) = host.device_by_id(&id) {
                return Some(device);
            }
        }
    }
    let devices: Vec<Device> = if output {
        host.output_devices().map(|d| d.collect()).unwrap_or_default()
    } else {
        host.input_devices().map(|d| d.collect()).unwrap_or_default()
    };
    let lower = wanted.to_lowercase();
    devices
        .iter()
        .find(|d| d.id().is_ok_and(|id| id.id() == wanted || id.to_string() == wanted))
        .or_else(|| devices.iter().find(|d| d.to_string().to_lowercase().contains(&lower)))
        .cloned()
}

/// Ids of the devices that can play, for error messages.
pub fn output_device_ids(host: &Host) -> Vec<String> {
    let _quiet = StderrCapture::begin();
    host.output_devices()
        .map(|ds| ds.filter_map(|d| d.id().ok().map(|id| id.to_string())).collect())
        .unwrap_or_default()
}

/// The one line a user gets when audio cannot start.
pub fn no_device_message(what: &str, host: Option<&Host>) -> String {
    let mut ids = host.map(output_device_ids).unwrap_or_default();
    ids.truncate(8);
    let exists = if ids.is_empty() {
        "no output devices found".to_string()
    } else {
        format!("devices: {}", ids.join(", "))
    };
    format!(
        "no audio output: {what} ({exists}); try --audio null (no hardware), --audio-device alsa:jack, or `ferrotape devices`"
    )
}

impl CpalBackend {
    /// Choose and configure the devices (the streams start in `start`).
    pub fn open(options: &AudioOptions, preferred_rate: Option<u32>) -> Result<CpalBackend, String> {
        let host = choose_host(options).map_err(|e| no_device_message(&e, None))?;
        let _quiet = StderrCapture::begin();
        let output_device = match &options.device {
            Some(name) => find_device(&host, name, true).ok_or_else(|| {
                no_device_message(&format!("no device matches `{name}` on {}", host.id()), Some(&host))
            })?,
            None => host.default_output_device().ok_or_else(|| {
                no_device_message(&format!("{} has no default output device", host.id()), Some(&host))
            })?,
        };
        let output = configure(&output_device, true, options, options.sample_rate, preferred_rate)
            .map_err(|e| no_device_message(&e, Some(&host)))?;
        let rate = output.config.sample_rate;
        let input = choose_input(&host, &output_device, options)
            .and_then(|device| configure(&device, false, options, Some(rate), None).ok());
        if let (Some(input), Some(channel)) = (&input, options.input_channel) {
            if channel == 0 || channel > input.config.channels {
                return Err(format!(
                    "--input-channel {channel}: the input has {} channel(s), numbered from 1",
                    input.config.channels
                ));
            }
        }
        let block = match output.config.buffer_size {
            BufferSize::Fixed(n) => n as usize,
            BufferSize::Default => options.buffer as usize,
        };
        let output_name = format!("{} out", describe(&output.device));
        let input_name = input
            .as_ref()
            .map(|i| format!("{} in", describe(&i.device)))
            .unwrap_or_else(|| "no input".into());
        let description =
            format!("{output_name}, {input_name}, {rate} Hz, {block} frames, {}", output.format);
        let devices = format!("{output_name}, {input_name}, {}", output.format);
        Ok(CpalBackend {
            options: options.clone(),
            settings: StreamSettings {
                sample_rate: rate,
                block,
                output_channels: output.config.channels,
                has_input: input.is_some(),
                one_clock: output.device.id().is_ok_and(|id| id.host().to_string() == "jack"),
                description,
                devices,
                native_midi: None,
            },
            output,
            input,
            streams: Vec::new(),
            failure: Arc::new(AtomicU32::new(FAILURE_NONE)),
            stats: None,
        })
    }
}

fn describe(device: &Device) -> String {
    device.id().map(|id| id.to_string()).unwrap_or_else(|_| device.to_string())
}

/// `--input-device` (or `none`), else a named output device when it
/// captures, else the host's default input.
fn choose_input(host: &Host, output: &Device, options: &AudioOptions) -> Option<Device> {
    match options.input_device.as_deref() {
        Some("none") => None,
        Some(name) => find_device(host, name, false),
        // A named device that also records (alsa:jack, a USB interface) is the
        // natural input; JACK's devices are one-way despite what they report.
        None if options.device.is_some() && host.id().to_string() != "jack" && output.supports_input() => {
            Some(output.clone())
        }
        None => host.default_input_device(),
    }
}

/// Pick channels, format, rate and a fixed buffer size for a device.
/// `required_rate` must be met; otherwise `preferred_rate` is used when the
/// device can, else the device's default rate.
fn configure(
    device: &Device,
    output: bool,
    options: &AudioOptions,
    required_rate: Option<u32>,
    preferred_rate: Option<u32>,
) -> Result<Opened, String> {
    let name = describe(device);
    let default = if output { device.default_output_config() } else { device.default_input_config() }
        .map_err(|e| format!("{name}: {e}"))?;
    let ranges: Vec<_> = if output {
        device.supported_output_configs().map(|r| r.collect()).unwrap_or_default()
    } else {
        device.supported_input_configs().map(|r| r.collect()).unwrap_or_default()
    };
    let usable = |f: SampleFormat| matches!(f, SampleFormat::F32 | SampleFormat::I16 | SampleFormat::I32);
    let asked = options.sample_format.map(|f| match f {
        SampleFormatChoice::F32 => SampleFormat::F32,
        SampleFormatChoice::I16 => SampleFormat::I16,
        SampleFormatChoice::I32 => SampleFormat::I32,
    });
    let format = if let Some(asked) = asked {
        if default.sample_format() != asked && !ranges.iter().any(|r| r.sample_format() == asked) {
            let mut offered: Vec<String> = ranges.iter().map(|r| r.sample_format().to_string()).collect();
            offered.dedup();
            return Err(format!(
                "{name} cannot use sample format {asked} (it offers {})",
                offered.join(", ")
            ));
        }
        asked
    } else if usable(default.sample_format()) {
        default.sample_format()
    } else {
        ranges.iter().map(|r| r.sample_format()).find(|&f| usable(f)).ok_or_else(|| {
            format!(
                "{name}: sample format {} is not supported (f32, i16 or i32 are)",
                default.sample_format()
            )
        })?
    };
    let channels = default.channels();
    let fits = |rate: u32| {
        ranges.iter().any(|r| {
            r.channels() == channels
                && r.sample_format() == format
                && (r.min_sample_rate()..=r.max_sample_rate()).contains(&rate)
        })
    };
    let sample_rate = match (required_rate, preferred_rate) {
        (Some(rate), _) if fits(rate) || ranges.is_empty() => rate,
        (Some(rate), _) => {
            return Err(format!(
                "{name} cannot run at {rate} Hz (its default is {} Hz)",
                default.sample_rate()
            ))
        }
        (None, Some(rate)) if fits(rate) => rate,
        _ => default.sample_rate(),
    };
    let range = ranges.iter().find(|r| r.channels() == channels && r.sample_format() == format);
    let buffer = match range.map(|r| *r.buffer_size()) {
        Some(SupportedBufferSize::Range { min, max }) if max >= min => options.buffer.clamp(min, max),
        _ => options.buffer,
    };
    Ok(Opened {
        device: device.clone(),
        config: StreamConfig { channels, sample_rate, buffer_size: BufferSize::Fixed(buffer) },
        format,
    })
}

fn error_callback(
    stats: Arc<LiveStats>,
    failure: Arc<AtomicU32>,
) -> impl FnMut(cpal::Error) + Send + 'static {
    move |error| match error.kind() {
        ErrorKind::Xrun => LiveStats::add(&stats.xruns, 1),
        ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => {}
        ErrorKind::DeviceNotAvailable | ErrorKind::HostUnavailable | ErrorKind::StreamInvalidated => {
            LiveStats::add(&stats.stream_errors, 1);
            failure.store(FAILURE_DEVICE_GONE, Ordering::Relaxed);
        }
        _ => {
            LiveStats::add(&stats.stream_errors, 1);
            failure.store(FAILURE_BACKEND, Ordering::Relaxed);
        }
    }
}

fn build_output<T: SizedSample + FromSample<f32>>(
    opened: &Opened,
    processor: Arc<Handoff<LiveProcessor>>,
    clock: ClockOrigin,
    errors: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<Stream, cpal::Error> {
    let channels = opened.config.channels as usize;
    opened.device.build_output_stream::<T, _, _>(
        opened.config,
        move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            // The whole callback is real-time (the engine's part catches
            // its own panics and stays silent after one).
            let done = super::realtime::callback(|| {
                let stamp = info.timestamp();
                let since_zero = |t: StreamInstant| t.saturating_duration_since(StreamInstant::ZERO);
                // When the host called this callback and will play its first frame.
                let (now, called) = (Instant::now(), since_zero(stamp.callback));
                let times = OutputTimes {
                    called_at: clock.place(now, called, called),
                    plays_at: clock.place(now, called, since_zero(stamp.playback)),
                };
                processor.with(|p| p.render(data, channels, Some(times)))
            });
            if done.flatten().is_none() {
                data.fill(T::EQUILIBRIUM);
            }
        },
        errors,
        None,
    )
}

fn build_input<T: SizedSample>(
    opened: &Opened,
    writer: Arc<Handoff<InputWriter>>,
    channel: Option<u16>,
    clock: ClockOrigin,
    errors: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<Stream, cpal::Error>
where
    f32: FromSample<T>,
{
    let channels = opened.config.channels.max(1) as usize;
    let rate = opened.config.sample_rate as f64;
    let mut scratch = vec![0.0f32; INPUT_SCRATCH];
    opened.device.build_input_stream::<T, _, _>(
        opened.config,
        move |data: &[T], info: &cpal::InputCallbackInfo| {
            // A panic here only loses this callback's frames (the input
            // sync fills the gap with silence).
            super::realtime::callback(|| {
                let stamp = info.timestamp();
                let since_zero = |t: StreamInstant| t.saturating_duration_since(StreamInstant::ZERO);
                // When the host called this callback and captured its first frame.
                let (now, called) = (Instant::now(), since_zero(stamp.callback));
                let called_at = clock.place(now, called, called);
                let mut captured_at = clock.place(now, called, since_zero(stamp.capture));
                writer.with(|w| {
                    for piece in data.chunks(INPUT_SCRATCH * channels) {
                        let frames = piece.len() / channels;
                        for (out, frame) in scratch.iter_mut().zip(piece.chunks_exact(channels)) {
                            *out = match channel {
                                Some(c) => f32::from_sample(frame[(c as usize - 1).min(channels - 1)]),
                                None => {
                                    frame.iter().map(|&s| f32::from_sample(s)).sum::<f32>() / channels as f32
                                }
                            };
                        }
                        w.write_captured(&scratch[..frames], captured_at, called_at);
                        // Later pieces of one callback were captured later.
                        captured_at += Duration::from_secs_f64(frames as f64 / rate);
                    }
                });
            });
        },
        errors,
        None,
    )
}

impl AudioBackend for CpalBackend {
    fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    fn start(
        &mut self,
        processor: Arc<Handoff<LiveProcessor>>,
        input: Arc<Handoff<InputWriter>>,
    ) -> Result<(), String> {
        self.stop();
        let stats = processor
            .with(|p| p.stats_arc())
            .ok_or("the engine is not ready (still held by a stopped stream)")?;
        self.stats = Some(stats.clone());
        self.failure.store(FAILURE_NONE, Ordering::Relaxed);
        let _quiet = StderrCapture::begin();
        let errors = || error_callback(stats.clone(), self.failure.clone());
        let out = &self.output;
        // JACK stamps both streams on its one clock: they share its origin,
        // so the round trip is exactly what JACK says. Other hosts count
        // each stream's time from its own start.
        let clock = ClockOrigin::default();
        let input_clock = if self.settings.one_clock { clock.clone() } else { ClockOrigin::default() };
        let stream = match out.format {
            SampleFormat::I16 => build_output::<i16>(out, processor, clock.clone(), errors()),
            SampleFormat::I32 => build_output::<i32>(out, processor, clock.clone(), errors()),
            _ => build_output::<f32>(out, processor, clock.clone(), errors()),
        }
        .map_err(|e| format!("cannot open {}: {e}", describe(&out.device)))?;
        stream.play().map_err(|e| format!("cannot start {}: {e}", describe(&out.device)))?;
        self.streams.push(stream);
        if let Some(opened) = &self.input {
            let channel = self.options.input_channel;
            let stream = match opened.format {
                SampleFormat::I16 => build_input::<i16>(opened, input, channel, input_clock, errors()),
                SampleFormat::I32 => build_input::<i32>(opened, input, channel, input_clock, errors()),
                _ => build_input::<f32>(opened, input, channel, input_clock, errors()),
            }
            .map_err(|e| format!("cannot open input {}: {e}", describe(&opened.device)))?;
            stream.play().map_err(|e| format!("cannot start input {}: {e}", describe(&opened.device)))?;
            self.streams.push(stream);
        }
        Ok(())
    }

    fn stop(&mut self) {
        // Dropping (never pausing) a stream stops its callbacks before returning.
        let _quiet = StderrCapture::begin();
        self.streams.clear();
    }

    fn health(&self) -> Health {
        match self.failure.load(Ordering::Relaxed) {
            FAILURE_NONE => Health::Running,
            FAILURE_DEVICE_GONE => {
                Health::Failed(format!("audio device {} went away", describe(&self.output.device)))
            }
            _ => Health::Failed(format!("audio stream on {} failed", describe(&self.output.device))),
        }
    }

    fn reopen(&mut self) -> Result<(), String> {
        self.stop();
        // The engine is prepared for this rate: the device must run at it again.
        let mut options = self.options.clone();
        options.sample_rate = Some(self.settings.sample_rate);
        let fresh = CpalBackend::open(&options, None)?;
        self.settings = fresh.settings.clone();
        self.output = fresh.output;
        self.input = fresh.input;
        Ok(())
    }
}

/// `ferrotape devices`: every host, its devices, their rates and channels.
pub fn describe_devices() -> String {
    let _quiet = StderrCapture::begin();
    let mut text = String::new();
    let default = default_host_id();
    let hosts = cpal::available_hosts();
    text.push_str(&format!(
        "audio hosts: {}\n",
        hosts
            .iter()
            .map(|h| if *h == default { format!("{h} (default)") } else { h.to_string() })
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for id in hosts {
        let Ok(host) = cpal::host_from_id(id) else {
            text.push_str(&format!("{id}: not available\n"));
            continue;
        };
        let devices: Vec<Device> = host.devices().map(|d| d.collect()).unwrap_or_default();
        if devices.is_empty() {
            let hint = if id.to_string() == "jack" { " (is a JACK server running?)" } else { "" };
            text.push_str(&format!("{id}: no devices{hint}\n"));
            continue;
        }
        text.push_str(&format!("{id}:\n"));
        for device in devices {
            let mut line = format!("  {:<24} {}", describe(&device), device);
            for (label, config) in
                [("out", device.default_output_config()), ("in", device.default_input_config())]
            {
                if let Ok(c) = config {
                    line.push_str(&format!(
                        "; {label}: {} ch, {} Hz, {}",
                        c.channels(),
                        c.sample_rate(),
                        c.sample_format()
                    ));
                }
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}
