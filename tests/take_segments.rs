//! Takes and journals longer than one WAV file: with a small segment limit,
//! every stream goes on in `NAME.002.wav`, `NAME.003.wav`…, nothing is lost
//! at the seams, and a take still re-renders bit for bit from a journal that
//! spans many segments.

mod take_support;

use std::path::Path;
use std::time::Duration;

use ferrotape::take::folder::{replay_take, TakeInfo};
use ferrotape::take::segment::segment_paths;
use ferrotape::take::{render_take, TAKE_FILE};
use take_support::*;

/// 0.21 s at 48 kHz: the 200 000-frame performance crosses it 19 times.
const SEGMENT: u64 = 10_000;

fn names(first: &Path) -> Vec<String> {
    segment_paths(first).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

/// Every segment but the last holds exactly the limit; the last is not empty
/// unless it is the only one.
fn assert_cut_at_the_limit(name: &str, frames: &[u64]) {
    let (last, full) = frames.split_last().expect("segments");
    assert!(full.iter().all(|&f| f == SEGMENT), "{name}: segments of {frames:?}");
    assert!(*last <= SEGMENT && (*last > 0 || full.is_empty()), "{name}: last segment {last}");
}

#[test]
fn a_take_and_its_journal_cross_segments_and_re_render_bit_for_bit() {
    let root = scratch("segments");
    let patch = wobbly_patch();
    let (mut engine, mut feed, handle) = start_with(&root, &patch, |c| c.segment_frames = SEGMENT);
    let total = 200_000u64;
    perform(&mut engine, &mut feed, &score(), total, |frame| {
        if (72_000..72_600).contains(&frame) {
            handle.start();
        }
        if (192_000..192_600).contains(&frame) {
            handle.stop();
        }
    });
    assert!(handle.finish(Duration::from_secs(20)), "writer finishes");
    let status = handle.status();
    assert_eq!(status.last_error, None);
    assert_eq!(status.dropped_blocks, 0);
    let dir = status.folder.expect("a take folder");
    let journal = status.journal.expect("a journal");
    let info = TakeInfo::load(&dir).expect("take.toml");
    assert!(info.exact);
    let frames = info.frames.expect("finished take has a length");

    // The journal: every input frame since the engine started, in order.
    let (channels, heard, segments) = read_stream(&journal.join("input.wav"));
    assert_eq!(channels, 1);
    assert_cut_at_the_limit("journal input.wav", &segments);
    assert_eq!(segments.len() as u64, total.div_ceil(SEGMENT));
    assert_eq!(heard.len() as u64, total, "journal frames");
    let wrong =
        heard.iter().enumerate().filter(|&(i, &x)| x.to_bits() != input_at(i as u64).to_bits()).count();
    assert_eq!(wrong, 0, "{wrong} journal samples differ from what was fed");
    let expected_names: Vec<String> = std::iter::once("input.wav".to_string())
        .chain((2..=segments.len()).map(|i| format!("input.{i:03}.wav")))
        .collect();
    assert_eq!(names(&journal.join("input.wav")), expected_names);

    // The take: each stream cut at the same frames, as long as the take.
    let (_, mix, mix_segments) = read_stream(&dir.join("mix.wav"));
    assert_cut_at_the_limit("mix.wav", &mix_segments);
    assert!(mix_segments.len() >= 12, "{} segments", mix_segments.len());
    assert_eq!(mix.len() as u64, 2 * frames);
    for name in ["input.wav", "track-01.wav", "track-02.wav"] {
        let (channels, _, segments) = read_stream(&dir.join(name));
        assert_eq!(channels, 1, "{name}");
        assert_eq!(segments, mix_segments, "{name} is cut where the mix is");
    }
    let (_, take_input, _) = read_stream(&dir.join("input.wav"));
    let wrong = take_input
        .iter()
        .enumerate()
        .filter(|&(i, &x)| x.to_bits() != input_at(info.start_frame + i as u64).to_bits())
        .count();
    assert_eq!(wrong, 0, "{wrong} take input samples differ from what was fed");

    // Replayed from the segmented journal: the segmented mix, bit for bit.
    let mut replayed = Vec::new();
    let mut stem = Vec::new();
    let (_, length, exact) = replay_take(&dir, 333, |b, range| {
        for i in range.clone() {
            replayed.push(b.left[i]);
            replayed.push(b.right[i]);
        }
        stem.extend_from_slice(&b.stem(1)[range]);
    })
    .expect("replay");
    assert!(exact);
    assert_eq!(length, frames);
    assert_eq!(replayed.len(), mix.len());
    let differing = replayed.iter().zip(&mix).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    assert_eq!(differing, 0, "{differing} of {} samples differ", mix.len());
    let (_, live_stem, _) = read_stream(&dir.join("track-02.wav"));
    assert!(stem.iter().zip(&live_stem).all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(mix.iter().any(|&x| x.abs() > 0.05), "the take is not silence");

    // As after a crash: take.toml without a length counts every mix segment.
    let text = std::fs::read_to_string(dir.join(TAKE_FILE)).unwrap();
    let crashed: String =
        text.lines().filter(|l| !l.starts_with("frames")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join(TAKE_FILE), crashed).unwrap();
    assert_eq!(TakeInfo::load(&dir).unwrap().frames, None);
    let out = root.join("again.wav");
    let report = render_take(&dir, &out, None, 256).expect("render take");
    assert_eq!(report.frames, frames);
    let (_, again, again_segments) = read_stream(&out);
    assert_eq!(again_segments.len(), 1, "a re-render this short is one file");
    assert!(again.len() == mix.len() && again.iter().zip(&mix).all(|(a, b)| a.to_bits() == b.to_bits()));
    let _ = std::fs::remove_dir_all(&root);
}
