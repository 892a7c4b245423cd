//! The engine's output is fingerprinted per model revision: when the sound
//! changes, `MODEL_REVISION` must change with it, or takes recorded by the
//! previous engine would claim to re-render exactly when they do not.
//!
//! The fingerprint is of a scene that touches every model (hysteresis and
//! soft saturation, tape tone, wow, flutter, drift, hiss, ageing, dub,
//! erase, reverse, varispeed, undo, latency and its change, two quality
//! settings). The engine computes its transcendental functions itself, so
//! the fingerprint holds on any machine: the C library's own (glibc picks
//! a variant per CPU) would round some results differently, which the last
//! test here checks by running the scene again with glibc's other variants.

mod common;

use common::*;
use ferrotape::analysis::sine;
use ferrotape::engine::{
    Command, EngineConfig, Param, Quality, SaturationModel, TapeLength, ToneModel, TrackAction, TrackConfig,
    MODEL_REVISION,
};
use ferrotape::render::render_to_memory;

/// The output fingerprint of each model revision.
const FINGERPRINTS: [(u32, u64); 4] = [
    (2, 0x3e6b_b658_3fd0_1d9e),
    (3, 0x5e2f_d4c5_0023_d744),
    (4, 0xfd65_3ebf_9cfc_7fb2),
    (5, 0xe877_9e3b_07f1_0a0e),
];

fn scene(quality: Quality) -> EngineConfig {
    let mut tape = TrackConfig { length: TapeLength::Fixed(0.9), ..TrackConfig::default() };
    for (param, value) in [
        (Param::DriveDb, 9.0),
        (Param::WowPct, 0.6),
        (Param::FlutterPct, 0.2),
        (Param::DriftPct, 0.3),
        (Param::HissDb, -70.0),
        (Param::Age, 0.05),
        (Param::Feedback, 0.8),
    ] {
        tape.params.set(param, value);
    }
    let mut soft = TrackConfig { length: TapeLength::Free { max_seconds: 3.0 }, ..tape.clone() };
    soft.saturation = SaturationModel::Soft;
    soft.tone = ToneModel::Flat;
    soft.params.set(Param::Pan, -0.5);
    EngineConfig { seed: 7, quality, tracks: vec![tape, soft], ..EngineConfig::default() }
}

fn score() -> Vec<(u64, Command)> {
    let mut score = vec![
        (0, Command::RecordLatency { frames: 700 }),
        (at(0.1), act(0, TrackAction::Record)),
        (at(0.2), act(1, TrackAction::Record)),
        (at(1.0), act(0, TrackAction::Dub)),
        (at(1.3), act(1, TrackAction::Play)),
        (at(1.5), set(0, Param::Speed, 0.7)),
        (at(1.9), act(0, TrackAction::Reverse)),
        (at(2.2), Command::RecordLatency { frames: 2000 }),
        (at(2.4), act(0, TrackAction::Erase)),
        (at(2.6), act(0, TrackAction::Play)),
        (at(2.7), act(0, TrackAction::Undo)),
        (at(2.9), set(1, Param::Speed, 2.3)),
    ];
    score.sort_by_key(|e| e.0);
    score
}

/// FNV-1a's offset basis: the hash of nothing.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `hash` continued over `bytes`.
fn fnv1a(hash: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(hash, |h, byte| (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The bytes of samples, for [`fnv1a`].
fn sample_bytes<'a, S: IntoIterator<Item = &'a f32>>(samples: S) -> impl Iterator<Item = u8> + use<'a, S> {
    samples.into_iter().flat_map(|x| x.to_bits().to_le_bytes())
}

/// FNV-1a over the bits of every sample of the mix and stems.
fn fingerprint() -> u64 {
    let input: Vec<f32> = sine(440.0, 0.6, SRF, at(3.5) as usize)
        .iter()
        .zip(sine(1230.0, 0.2, SRF, at(3.5) as usize))
        .map(|(a, b)| a + b)
        .collect();
    let mut hash = FNV_START;
    for quality in [Quality::Full, Quality::Eco] {
        let out = render_to_memory(scene(quality), SR, &input, &score(), at(3.5), 256);
        for channel in [&out.left, &out.right].into_iter().chain(out.stems.iter()) {
            hash = fnv1a(hash, sample_bytes(channel));
        }
    }
    hash
}

#[test]
fn the_sound_changes_only_with_the_model_revision() {
    let measured = fingerprint();
    let recorded = FINGERPRINTS.iter().find(|(revision, _)| *revision == MODEL_REVISION).map(|f| f.1);
    assert_eq!(
        recorded,
        Some(measured),
        "the engine's output fingerprint is {measured:#018x} at MODEL_REVISION {MODEL_REVISION}: \
         if the sound was meant to change, raise MODEL_REVISION and record the new fingerprint here"
    );
}

/// glibc's hardware capabilities masked so that it loads its variants for
/// a CPU without fused multiply-add or AVX2 (an older or smaller machine).
const WITHOUT_FMA: &str = "glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4,-AVX512F";

/// The fingerprint, and a fingerprint of the C library's `exp`, `sin` and
/// `cos`, as a child run of this binary under `tunables` prints them.
fn child_fingerprints(tunables: Option<&str>) -> (String, String) {
    let mut child = std::process::Command::new(std::env::current_exe().expect("the test binary"));
    child.args(["--exact", "print_the_fingerprints", "--ignored", "--nocapture", "--test-threads=1"]);
    match tunables {
        Some(t) => child.env("GLIBC_TUNABLES", t),
        None => child.env_remove("GLIBC_TUNABLES"),
    };
    let out = child.output().expect("run the test binary again");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "the child run failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.split(name).nth(1))
            .unwrap_or_else(|| panic!("no {name} in: {text}"))
            .trim()
            .to_string()
    };
    (field("engine fingerprint"), field("c library fingerprint"))
}

/// FNV-1a over the C library's exp, sin and cos of many arguments.
fn c_library_fingerprint() -> u64 {
    let values = (0..200_000).flat_map(|i| {
        let x = -(i as f64) * 1.7e-5 - 1e-9 * (i % 13) as f64;
        [x.exp(), (3.1 * x).cos(), (2.3 * x).sin()]
    });
    fnv1a(FNV_START, values.flat_map(|y| y.to_bits().to_le_bytes()))
}

/// The live comparison's scene: sixteen whole-model loops recorded for 2 s
/// from quiet noise, then twelve playing and four dubbing. A
/// rounding the C library makes differently in one of its variants is rare
/// (an `exp` an ulp off for some arguments in thousands) and reaches the
/// output only when it tips a sample's last bit, so it takes a scene this
/// long to show.
fn fingerprint_of_sixteen_loops() -> u64 {
    let seconds = 12.0;
    let frames = at(seconds) as usize;
    // Quiet white noise: fields of every size and direction, and many
    // turns of the field near the curve, where the model is most sensitive.
    let mut state: u32 = 0x1234_5678;
    let input: Vec<f32> = (0..frames)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            0.06 * (state as f32 / u32::MAX as f32 - 0.5)
        })
        .collect();
    let tracks = (0..16)
        .map(|k| {
            let mut track =
                TrackConfig { length: TapeLength::Free { max_seconds: 10.0 }, ..TrackConfig::default() };
            whole_model(&mut track);
            track.params.set(Param::Feedback, 0.9);
            track.params.set(Param::InertiaS, 0.3);
            track.params.set(Param::Pan, -0.8 + 0.1 * k as f32);
            track
        })
        .collect();
    let mut score: Vec<(u64, Command)> = (0..16).map(|k| (at(0.5), act(k, TrackAction::Record))).collect();
    let next = |k: u8| if k >= 12 { TrackAction::Dub } else { TrackAction::Play };
    score.extend((0..16).map(|k| (at(2.5), act(k, next(k)))));
    let out =
        render_to_memory(EngineConfig { seed: 3, ..config(tracks) }, SR, &input, &score, at(seconds), 256);
    fnv1a(FNV_START, sample_bytes(out.left.iter().chain(&out.right).chain(out.stems.iter().flatten())))
}

#[test]
#[ignore = "run by the_sound_is_the_same_whichever_variant_of_the_c_library_runs, as a child process"]
fn print_the_fingerprints() {
    println!("engine fingerprint {:#018x} {:#018x}", fingerprint(), fingerprint_of_sixteen_loops());
    println!("c library fingerprint {:#018x}", c_library_fingerprint());
}

#[test]
fn the_sound_is_the_same_whichever_variant_of_the_c_library_runs() {
    if !cfg!(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64")) {
        eprintln!("SKIPPED: glibc's per-CPU variants are an x86_64 Linux matter");
        return;
    }
    let (sound, library) = child_fingerprints(None);
    let (sound_without_fma, library_without_fma) = child_fingerprints(Some(WITHOUT_FMA));
    if library == library_without_fma {
        // Nothing to compare: this CPU has no FMA, or this glibc one variant.
        eprintln!("SKIPPED: the C library here rounds alike with and without {WITHOUT_FMA}");
        return;
    }
    assert_eq!(
        sound, sound_without_fma,
        "the engine's output changes with the C library's variant ({WITHOUT_FMA}): \
         a transcendental function the sound depends on comes from libm, not engine::math"
    );
}
