//! No hardware: a thread renders one block, then sleeps until the next
//! block is due, so the engine runs in real time on the system clock.
//! There is no input (the record heads hear silence) and no output.

use super::{AudioBackend, AudioOptions, Handoff, Health, LiveProcessor, StreamSettings};
use crate::bridge::InputWriter;
use crate::render::DEFAULT_SAMPLE_RATE;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the null backend plays through, as the status shows it.
const NULL_DEVICES: &str = "null audio (no hardware)";

pub struct NullBackend {
    settings: StreamSettings,
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NullBackend {
    pub fn new(options: &AudioOptions, preferred_rate: Option<u32>) -> NullBackend {
        let sample_rate = options.sample_rate.or(preferred_rate).unwrap_or(DEFAULT_SAMPLE_RATE);
        let block = options.buffer.clamp(1, super::processor::MAX_CHUNK as u32) as usize;
        NullBackend {
            settings: StreamSettings {
                sample_rate,
                block,
                output_channels: 2,
                has_input: false,
                one_clock: true,
                description: format!("{NULL_DEVICES}, {sample_rate} Hz, {block} frames"),
                devices: NULL_DEVICES.to_string(),
                native_midi: None,
            },
            running: Arc::new(AtomicBool::new(false)),
            thread: None,
        }
    }
}

impl AudioBackend for NullBackend {
    fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    fn start(
        &mut self,
        processor: Arc<Handoff<LiveProcessor>>,
        _input: Arc<Handoff<InputWriter>>,
    ) -> Result<(), String> {
        self.stop();
        self.running.store(true, Ordering::Relaxed);
        let running = self.running.clone();
        let block = self.settings.block;
        let period = Duration::from_secs_f64(block as f64 / self.settings.sample_rate as f64);
        let thread = std::thread::Builder::new()
            .name("ferrotape-null-audio".into())
            .spawn(move || {
                let mut buffer = vec![0.0f32; block * 2];
                let mut due = Instant::now();
                while running.load(Ordering::Relaxed) {
                    processor.with(|p| p.render(&mut buffer, 2, None));
                    due += period;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    } else if now - due > period * 8 {
                        // Far behind (the machine was suspended): do not race to catch up.
                        due = now;
                    }
                }
            })
            .map_err(|e| format!("cannot start the null audio thread: {e}"))?;
        self.thread = Some(thread);
        Ok(())
    }

    fn stop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn health(&self) -> Health {
        Health::Running
    }

    fn reopen(&mut self) -> Result<(), String> {
        Ok(())
    }
}

impl Drop for NullBackend {
    fn drop(&mut self) {
        self.stop();
    }
}
