//! The `ferrotape` command as a user runs it: renders of every example
//! patch, block-size invariance on disk, input resampling, and one clear
//! line (never a panic) for every kind of mistake.

mod common;

use common::{example_patches, scratch_dir, write_pcm_wav};
use ferrotape::analysis::{frequency, rms, sine};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ferrotape(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrotape")).args(args).output().expect("run ferrotape")
}

fn write_wav(path: &Path, sample_rate: u32, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u32 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect()
        }
    };
    (spec, samples)
}

/// A few seconds of plucked-ish notes, the kind of thing a performer feeds in.
fn phrase(sample_rate: u32) -> Vec<f32> {
    let mut out = Vec::new();
    for (i, hz) in [220.0, 277.2, 329.6, 440.0, 329.6, 277.2].iter().enumerate() {
        let note = sine(*hz, 0.4, sample_rate as f64, sample_rate as usize / 2);
        out.extend(
            note.iter().enumerate().map(|(n, x)| x * (-(n as f32) / (sample_rate as f32 * 0.15)).exp()),
        );
        let _ = i;
    }
    out
}

fn stderr_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_string()
}

#[test]
fn every_example_patch_renders_with_its_score() {
    let dir = scratch_dir("examples");
    let input = dir.join("phrase.wav");
    write_wav(&input, 48_000, &phrase(48_000));
    for patch in example_patches() {
        let name = patch.file_stem().unwrap().to_string_lossy().into_owned();
        let out = dir.join(format!("{name}.wav"));
        let stems = dir.join(format!("{name}-stems"));
        let events = patch.with_extension("events.toml");
        let output = ferrotape(&[
            "render",
            patch.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
            "--duration",
            "12",
            "--out",
            out.to_str().unwrap(),
            "--stems",
            stems.to_str().unwrap(),
            "--bits",
            "24",
        ]);
        assert!(output.status.success(), "{name}: {}", stderr_line(&output));
        let (spec, samples) = read_wav(&out);
        assert_eq!((spec.channels, spec.bits_per_sample), (2, 24));
        assert_eq!(samples.len(), 2 * 12 * spec.sample_rate as usize, "{name}: length");
        assert!(samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        assert!(rms(&samples) > 1e-3, "{name}: the render is silent");
        let stem_count = std::fs::read_dir(&stems).unwrap().count();
        let tracks = ferrotape::patch::Patch::load(&patch).unwrap().tracks.len();
        assert_eq!(stem_count, tracks, "{name}: one stem per track");
    }
}

#[test]
fn block_size_never_changes_the_file() {
    let dir = scratch_dir("blocks");
    let input = dir.join("phrase.wav");
    write_wav(&input, 48_000, &phrase(48_000));
    let render = |block: &str| -> PathBuf {
        let out = dir.join(format!("block-{block}.wav"));
        let output = ferrotape(&[
            "render",
            "patches/cassette.toml",
            "--input",
            input.to_str().unwrap(),
            "--events",
            "patches/cassette.events.toml",
            "--duration",
            "6",
            "--out",
            out.to_str().unwrap(),
            "--block",
            block,
        ]);
        assert!(output.status.success(), "{}", stderr_line(&output));
        out
    };
    let reference = std::fs::read(render("256")).unwrap();
    for block in ["1", "4096"] {
        assert!(std::fs::read(render(block)).unwrap() == reference, "--block {block} changed the file");
    }
}

#[test]
fn input_at_another_sample_rate_is_resampled_not_refused() {
    let dir = scratch_dir("resample");
    let patch = dir.join("one.toml");
    std::fs::write(
        &patch,
        "version = 1\nname = \"one\"\nseed = 1\n[[track]]\nlength = 2.0\nwow_pct = 0.0\nflutter_pct = 0.0\nsaturation = \"off\"\ntone = \"flat\"\n",
    )
    .unwrap();
    let events = dir.join("one.events.toml");
    std::fs::write(
        &events,
        "[[event]]\nat = 0.0\ntrack = 1\ndo = \"record\"\n[[event]]\nat = 2.1\ntrack = 1\ndo = \"play\"\n",
    )
    .unwrap();
    let input = dir.join("tone-44k.wav");
    write_wav(&input, 44_100, &sine(1000.0, 0.5, 44_100.0, 44_100 * 3));
    let out = dir.join("out.wav");
    let output = ferrotape(&[
        "render",
        patch.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--duration",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr_line(&output));
    let (spec, samples) = read_wav(&out);
    assert_eq!(spec.sample_rate, 48_000);
    let left: Vec<f32> = samples.iter().step_by(2).copied().collect();
    let f = frequency(&left[48_000 * 2 + 2400..48_000 * 3 - 100], 48_000.0);
    assert!((f - 1000.0).abs() < 0.1, "played back at {f} Hz");
}

#[test]
fn mistakes_get_one_clear_line_and_a_failing_exit() {
    let dir = scratch_dir("mistakes");
    let garbage = dir.join("garbage.wav");
    std::fs::write(&garbage, b"this is not a wave file").unwrap();
    let one_hertz = dir.join("one-hertz.wav");
    write_pcm_wav(&one_hertz, 1, 1, 8, &[128; 64]);
    let out = dir.join("x.wav");
    let out = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["render", "patches/nope.toml", "--duration", "1", "--out", out], "patches/nope.toml"),
        (vec!["render", "patches/cassette.toml", "--duration", "-1", "--out", out], "--duration"),
        (
            vec!["render", "patches/cassette.toml", "--duration", "1", "--out", out, "--bits", "12"],
            "--bits 12",
        ),
        (
            vec!["render", "patches/cassette.toml", "--duration", "1", "--out", out, "--block", "0"],
            "--block 0",
        ),
        (
            vec![
                "render",
                "patches/cassette.toml",
                "--duration",
                "1",
                "--out",
                out,
                "--input",
                garbage.to_str().unwrap(),
            ],
            "garbage.wav",
        ),
        (
            vec![
                "render",
                "patches/cassette.toml",
                "--duration",
                "1",
                "--out",
                out,
                "--input",
                one_hertz.to_str().unwrap(),
            ],
            "one-hertz.wav: sample rate 1 Hz is out of range (1000 to 768000 Hz)",
        ),
        (
            vec![
                "render",
                "patches/cassette.toml",
                "--duration",
                "1",
                "--out",
                out,
                "--events",
                "patches/nope.events.toml",
            ],
            "nope.events.toml",
        ),
        (
            vec!["render", "patches/cassette.toml", "--duration", "1", "--out", "/nonexistent-dir/x.wav"],
            "/nonexistent-dir/x.wav",
        ),
        (vec!["check", "tests/fixtures/bad/out_of_range.toml"], "out_of_range.toml:"),
        (vec!["check", "tests/fixtures/bad/bad_action.events.toml"], "bad_action.events.toml:"),
    ];
    for (args, mentions) in cases {
        let output = ferrotape(&args);
        let message = stderr_line(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "{args:?}: more than one line: {message}");
        assert!(message.starts_with("ferrotape: ") && message.contains(mentions), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
    // A mistyped flag is a usage error from the argument parser, not a crash.
    let output = ferrotape(&["render", "--durration", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!stderr_line(&output).contains("panicked"));
}

#[test]
fn check_accepts_every_example() {
    for patch in example_patches() {
        for path in [patch.clone(), patch.with_extension("events.toml")] {
            let output = ferrotape(&["check", path.to_str().unwrap()]);
            assert!(output.status.success(), "{}: {}", path.display(), stderr_line(&output));
            assert!(String::from_utf8_lossy(&output.stdout).contains("is valid"));
        }
    }
}

#[test]
fn devices_lists_midi_inputs_or_says_why_there_are_none() {
    let output = ferrotape(&["devices"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let midi = text.lines().find(|l| l.starts_with("MIDI inputs")).unwrap_or_default();
    println!("{midi}");
    assert!(!midi.is_empty(), "no MIDI line in:\n{text}");
}

/// `ferrotape play --no-tui | head -1`: the reader goes away while the
/// instrument still has lines to write. The session must finish as it
/// would with a reader, not die of the closed pipe.
#[test]
fn a_reader_that_goes_away_does_not_stop_the_instrument() {
    use std::process::Stdio;
    let args = ["play", "patches/cassette.toml", "--no-tui", "--audio", "null", "--duration", "0.5"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrotape"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrotape");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for ferrotape");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?} with stdout closed: {:?}\n{stderr}", output.status);
    assert!(!stderr.contains("internal error"), "{stderr}");
}

#[test]
fn sample_rate_outside_the_patch_range_is_refused_on_every_entry_point() {
    let patch = "patches/cassette.toml";
    for rate in ["0", "1", "7999", "192001", "4294967295"] {
        let entry_points: Vec<Vec<&str>> = vec![
            vec!["play", patch, "--no-tui", "--audio", "null", "--sample-rate", rate, "--duration", "1"],
            vec!["play", patch, "--no-tui", "--audio", "device", "--sample-rate", rate, "--duration", "1"],
            vec!["play", patch, "--audio", "null", "--sample-rate", rate],
            vec!["play", patch, "--sample-rate", rate],
            vec![patch, "--audio", "null", "--sample-rate", rate],
            vec![patch, "--sample-rate", rate],
        ];
        for args in entry_points {
            let output = ferrotape(&args);
            let message = stderr_line(&output);
            assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
            assert_eq!(
                message,
                format!("ferrotape: --sample-rate {rate} is out of range (8000 to 192000 Hz)"),
                "{args:?}"
            );
        }
    }
    // The ends of the range play.
    for rate in ["8000", "192000"] {
        let args = ["play", patch, "--no-tui", "--audio", "null", "--sample-rate", rate, "--duration", "0.2"];
        let output = ferrotape(&args);
        assert!(output.status.success(), "{args:?}: {}", stderr_line(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(&format!("{rate} Hz")), "{args:?}: {stdout}");
    }
}

#[test]
fn native_jack_options_are_refused_where_there_is_no_native_client() {
    let patch = "patches/cassette.toml";
    let mut cases: Vec<(Vec<&str>, &str)> =
        vec![(vec!["--inputs", "9"], "--inputs 9 must be between 1 and 8")];
    if cfg!(feature = "jack") {
        // A named cpal host replaces the native client.
        cases.push((
            vec!["--audio-host", "alsa", "--jack-name", "x"],
            "--jack-name is for the native JACK client",
        ));
        cases.push((
            vec!["--audio-host", "alsa", "--track-outputs"],
            "--track-outputs is for the native JACK client",
        ));
    } else {
        for flag in ["--track-outputs", "--no-connect"] {
            cases.push((vec![flag], "is for the native JACK client: this build has no JACK"));
        }
        cases.push((vec!["--jack-name", "x"], "--jack-name is for the native JACK client"));
    }
    for (extra, mentions) in cases {
        let mut args = vec!["play", patch, "--no-tui", "--duration", "0.1"];
        args.extend(extra.iter().copied());
        let output = ferrotape(&args);
        let message = stderr_line(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(message.contains(mentions), "{args:?}: {message}");
    }
}
