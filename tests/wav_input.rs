//! Input WAV files at any declared sample rate: odd rates resample at the
//! right pitch and length in bounded memory; absurd rates are refused with
//! the file, its rate and the allowed range, before anything large is
//! allocated. Memory is measured by a counting allocator, per thread (the
//! tests run in parallel).

mod common;

use common::{scratch_dir, write_pcm_wav, write_wav_header_and_samples};
use ferrotape::analysis::frequency;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct PeakCounter;

thread_local! {
    /// Bytes this thread holds now, and the most it held since the last reset.
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn account(change: isize) {
    let _ = LIVE_BYTES.try_with(|live| {
        live.set(live.get() + change);
        let _ = PEAK_BYTES.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

unsafe impl GlobalAlloc for PeakCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: PeakCounter = PeakCounter;

/// Run `f` and return its result with the most heap it held at once, bytes.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE_BYTES.with(Cell::get);
    PEAK_BYTES.with(|peak| peak.set(start));
    let result = f();
    (result, (PEAK_BYTES.with(Cell::get) - start).max(0) as usize)
}

fn tone_i16(hz: f64, rate: u32, frames: usize) -> Vec<i16> {
    (0..frames)
        .map(|n| ((2.0 * std::f64::consts::PI * hz * n as f64 / rate as f64).sin() * 16_000.0).round() as i16)
        .collect()
}

const MIB: usize = 1 << 20;

#[test]
fn a_coprime_rate_resamples_at_the_right_pitch_and_length_in_bounded_memory() {
    let dir = scratch_dir("wav-coprime");
    // 191 999 and 48 000 share no factor: one FFT method would need FFTs of
    // 191 999 points; 47 999 -> 48 000 the same.
    for from in [191_999u32, 47_999, 12_347] {
        let path = dir.join(format!("tone-{from}.wav"));
        let seconds = 2;
        write_wav_header_and_samples(&path, from, 1, &tone_i16(1000.0, from, from as usize * seconds));
        let (samples, peak) = peak_heap(|| ferrotape::wav::read_mono(&path, 48_000));
        let samples = samples.unwrap();
        assert_eq!(samples.len(), 48_000 * seconds, "{from} Hz: length");
        let hz = frequency(&samples[4_800..samples.len() - 4_800], 48_000.0);
        assert!((hz - 1000.0).abs() < 0.01, "{from} Hz: played at {hz} Hz");
        // The samples themselves: the ideal tone at 48 kHz, aligned with the input.
        let scale = 16_000.0 / 32_768.0;
        let err = (4_800..samples.len() - 4_800)
            .map(|n| {
                let ideal = (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 48_000.0).sin() * scale;
                (samples[n] as f64 - ideal).abs()
            })
            .fold(0.0, f64::max);
        assert!(err < 1e-3, "{from} Hz: max error {err}");
        // Input (read, then mixed to mono) and output are about 2 MB here;
        // the resampler adds its fixed-size kernel table.
        let file_bytes = from as usize * seconds * 4;
        assert!(peak < 2 * file_bytes + 2 * MIB, "{from} Hz: held {} MiB at once", peak / MIB);
    }
}

#[test]
fn common_rates_still_resample_exactly() {
    let dir = scratch_dir("wav-common");
    for from in [44_100u32, 96_000, 22_050, 8_000] {
        let path = dir.join(format!("tone-{from}.wav"));
        let stereo: Vec<i16> = tone_i16(440.0, from, from as usize).iter().flat_map(|&s| [s, s]).collect();
        write_wav_header_and_samples(&path, from, 2, &stereo);
        let samples = ferrotape::wav::read_mono(&path, 48_000).unwrap();
        assert_eq!(samples.len(), 48_000, "{from} Hz: length");
        let hz = frequency(&samples[4_800..43_200], 48_000.0);
        assert!((hz - 440.0).abs() < 0.01, "{from} Hz: played at {hz} Hz");
    }
}

#[test]
fn absurd_rates_are_refused_with_the_file_its_rate_and_the_range() {
    let dir = scratch_dir("wav-absurd");
    // 8-bit mono, so that even 4 294 967 295 Hz gives a consistent header
    // (its byte rate fits in 32 bits).
    let silence = vec![128u8; 8_000];
    for rate in [0u32, 1, 999, 768_001, 4_000_000_007, u32::MAX] {
        let path = dir.join(format!("rate-{rate}.wav"));
        write_pcm_wav(&path, rate, 1, 8, &silence);
        let (result, peak) = peak_heap(|| ferrotape::wav::read_mono(&path, 48_000));
        let message = result.expect_err("an absurd rate must be refused");
        assert_eq!(
            message,
            format!("{}: sample rate {rate} Hz is out of range (1000 to 768000 Hz)", path.display())
        );
        assert!(peak < 256 * 1024, "{rate} Hz: held {peak} bytes before refusing");
    }
    // The ends of the range are accepted.
    for rate in [1_000u32, 768_000] {
        let path = dir.join(format!("rate-{rate}.wav"));
        write_wav_header_and_samples(&path, rate, 1, &tone_i16(100.0, rate, rate as usize / 10));
        let samples = ferrotape::wav::read_mono(&path, 48_000).unwrap();
        assert_eq!(samples.len(), 4_800, "{rate} Hz");
    }
}
