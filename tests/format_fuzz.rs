//! Random and mutated patch and events files: the readers never panic, and
//! every error either names a line or is one of the few whole-file problems
//! whose message says so (a missing `version`, no track at all).

mod common;

use std::path::Path;

use ferrotape::events::EventList;
use ferrotape::file_error::FileError;
use ferrotape::patch::Patch;
use proptest::prelude::*;

/// Messages about the file as a whole: they have no line by nature.
const WHOLE_FILE: [&str; 2] = ["missing `version = 1`", "a patch needs at least one [[track]]"];

fn check(err: &FileError) {
    assert!(!err.message.is_empty());
    assert!(
        err.line.is_some() || WHOLE_FILE.iter().any(|m| err.message.starts_with(m)),
        "error without a line: {err}"
    );
    let shown = err.to_string();
    assert!(!shown.contains('\n'), "one line per error: {shown:?}");
}

/// Every valid file the project ships, as mutation seeds.
fn seeds() -> Vec<String> {
    let mut files: Vec<String> = common::example_patches()
        .into_iter()
        .flat_map(|p| [p.clone(), common::events_for(&p)])
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    files.extend(common::bad_fixture_files().into_iter().filter_map(|p| std::fs::read_to_string(p).ok()));
    files
}

fn parse_both(text: &str) {
    if let Err(e) = Patch::parse(text, Path::new("fuzz.toml")) {
        check(&e);
    }
    match EventList::parse(text, Path::new("fuzz.events.toml")) {
        Err(e) => check(&e),
        Ok(list) => {
            if let Err(e) = list.check_tracks(2) {
                // Events read from text always carry their line.
                check(&e);
                assert!(e.line.is_some());
            }
        }
    }
}

/// Fragments that steer random text towards the interesting parts of the grammar.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("version = 1\n".to_string()),
        Just("[[track]]\n".to_string()),
        Just("[[event]]\n".to_string()),
        Just("[[midi]]\n".to_string()),
        Just("length = \"free\"\n".to_string()),
        Just("at = 1.5\ntrack = 1\ndo = \"record\"\n".to_string()),
        Just("set = \"speed\"\nto = 0.5\n".to_string()),
        Just("by = -1e40\n".to_string()),
        Just("wow_pct = nan\n".to_string()),
        Just("seed = -1\n".to_string()),
        Just("sample_rate = 1e99\n".to_string()),
        Just("track = 99999999999999999999\n".to_string()),
        Just("[track]\n".to_string()),
        Just("x = [1, \"a\", {b = 2}]\n".to_string()),
        Just("\"\"\"\n".to_string()),
        Just("= =\n".to_string()),
        "[ -~\n]{0,40}",
        "\\PC{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(parts in prop::collection::vec(fragment(), 0..12)) {
        parse_both(&parts.concat());
    }

    #[test]
    fn mutated_files_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, fragment()), 1..6),
    ) {
        let seeds = seeds();
        let mut text = seeds[seed.index(seeds.len())].clone().into_bytes();
        for (at, kind, insert) in edits {
            let i = at.index(text.len() + 1);
            match kind {
                // Delete a run, insert a fragment, duplicate a line, flip a byte.
                0 => { let end = (i + 7).min(text.len()); text.drain(i..end); }
                1 => { text.splice(i..i, insert.into_bytes()); }
                2 => {
                    let line: Vec<u8> = text[i..].iter().take_while(|&&b| b != b'\n').copied().collect();
                    text.splice(i..i, line);
                }
                _ => if i < text.len() { text[i] ^= 0x20; },
            }
        }
        parse_both(&String::from_utf8_lossy(&text));
    }
}

#[test]
fn every_shipped_file_survives_truncation_at_every_line() {
    for text in seeds() {
        let mut cut = 0;
        while let Some(next) = text[cut..].find('\n') {
            cut += next + 1;
            parse_both(&text[..cut]);
            parse_both(&text[cut..]);
        }
    }
}
