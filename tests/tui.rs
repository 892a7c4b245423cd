//! The whole screen, driven by key events through the real app loop on a
//! `TestBackend`, over a `LocalLink` whose engine only moves when told to.

use std::path::{Path, PathBuf};

use ferrotape::engine::{Command, HeadMode, Param, TrackAction};
use ferrotape::patch::Patch;
use ferrotape::tui::link::TEST_SAMPLE_RATE;
use ferrotape::tui::{run, App, Exit, InstrumentLink, KeyMap, LearnWhat, LocalLink, ScriptedEvents};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// Frames for `seconds` of time at the test sample rate.
fn frames(seconds: f64) -> usize {
    (seconds * TEST_SAMPLE_RATE) as usize
}

struct Rig {
    terminal: Terminal<TestBackend>,
    app: App,
    link: LocalLink,
}

impl Rig {
    fn open(patch: &str, width: u16, height: u16) -> Rig {
        let path = PathBuf::from(format!("patches/{patch}.toml"));
        let loaded = Patch::load(&path).expect("example patch loads");
        let link = LocalLink::for_tests(loaded.engine_config()).with_fake_midi();
        let mut app = App::new(KeyMap::defaults(), loaded, Some(path));
        // Snapshots must not depend on the environment running the tests.
        app.color = false;
        app.patch_dirs = vec![PathBuf::from("patches")];
        let terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        Rig { terminal, app, link }
    }

    /// Type keys (see `ScriptedEvents::keys`) into the running app loop.
    fn keys(&mut self, keys: &str) -> Exit {
        run(&mut self.terminal, &mut self.app, &mut self.link, ScriptedEvents::keys(keys)).expect("app loop")
    }

    /// Let `seconds` of audio time pass.
    fn wait(&mut self, seconds: f64) {
        self.link.run(frames(seconds));
    }

    fn screen(&mut self) -> String {
        self.keys("");
        self.terminal.backend().to_string()
    }

    fn mode(&mut self, track: usize) -> HeadMode {
        self.keys("");
        self.app.snapshot.tracks()[track].mode
    }

    /// The "free" patch with something on every track: track 1 looped and
    /// playing, track 2 recording, track 3 dubbing and gliding down to half speed.
    fn performed(width: u16, height: u16) -> Rig {
        let mut rig = Rig::open("free", width, height);
        rig.keys("1r");
        rig.wait(2.0);
        rig.keys("p");
        rig.wait(1.3);
        rig.keys("3r");
        rig.wait(3.0);
        rig.keys("d");
        rig.wait(6.0);
        rig.keys("2r");
        rig.wait(0.5);
        rig.keys("3<");
        rig.wait(0.1);
        rig
    }
}

#[test]
fn main_screen_shows_every_track_at_a_glance() {
    let mut rig = Rig::performed(100, 24);
    assert_eq!(rig.mode(0), HeadMode::Play);
    assert_eq!(rig.mode(1), HeadMode::Record);
    assert_eq!(rig.mode(2), HeadMode::Dub);
    insta::assert_snapshot!("main_100x24", rig.screen());
}

#[test]
fn main_screen_at_80x24() {
    let mut rig = Rig::performed(80, 24);
    insta::assert_snapshot!("main_80x24", rig.screen());
}

#[test]
fn small_terminal_drops_details_then_says_so() {
    let mut rig = Rig::performed(60, 20);
    insta::assert_snapshot!("main_60x20", rig.screen());
    rig.terminal.backend_mut().resize(60, 10);
    insta::assert_snapshot!("main_60x10", rig.screen());
    rig.terminal.backend_mut().resize(30, 6);
    insta::assert_snapshot!("too_small", rig.screen());
    // Back to a usable size, everything is still there.
    rig.terminal.backend_mut().resize(80, 24);
    assert!(rig.screen().contains("DUB"));
}

#[test]
fn help_is_generated_from_the_keymap() {
    let mut rig = Rig::open("frippertronics", 80, 40);
    rig.keys("?");
    let screen = rig.screen();
    insta::assert_snapshot!("help", screen);
    assert!(screen.contains("record: replace what is on the tape with the input"));
    rig.keys("<esc>");
    assert!(!rig.screen().contains("Playing (selected track)"));
}

#[test]
fn midi_learn_targets_the_selected_parameter_or_a_pressed_action() {
    let mut rig = Rig::open("frippertronics", 80, 24);
    rig.keys("2<right><right><right>l");
    let learning = rig.link.learning().expect("learn requested");
    assert_eq!((learning.track, learning.what), (1, LearnWhat::Param(Param::Feedback)));
    insta::assert_snapshot!("learn", rig.screen());
    rig.keys("d");
    let learning = rig.link.learning().expect("still learning");
    assert_eq!(learning.what, LearnWhat::Action(TrackAction::Dub));
    rig.link.move_control(21);
    let screen = rig.screen();
    assert!(screen.contains("learned: CC 21 ch 1 → track 2 dub"), "{screen}");
    assert!(!screen.contains("MIDI learn"), "the panel closes once learned");
    rig.keys("l<esc>");
    assert!(rig.link.learning().is_none(), "esc cancels");
}

#[test]
fn a_bad_patch_shows_an_error_and_the_show_goes_on() {
    let mut rig = Rig::performed(80, 24);
    rig.app.patch_dirs = vec![PathBuf::from("tests/fixtures/bad")];
    // out_of_range.toml is the sixth patch in that folder; the slowed-down
    // track 3 is an unsaved change, so opening asks first.
    rig.keys("<ctrl+o>jjjjj<enter>");
    assert!(rig.screen().contains("Unsaved changes"));
    rig.keys("y");
    let screen = rig.screen();
    insta::assert_snapshot!("bad_patch_error", screen);
    assert!(screen.contains("out_of_range.toml:10: track 2: wow_pct = 12 is out of range"), "{screen}");
    let message = rig.app.message.clone().expect("an error message");
    assert!(message.is_error);
    assert_eq!(
        message.text,
        "tests/fixtures/bad/out_of_range.toml:10: track 2: wow_pct = 12 is out of range (0 to 5)"
    );
    assert_eq!(rig.mode(2), HeadMode::Dub, "the loaded patch keeps playing");
    rig.keys("<esc>");
    assert!(!rig.screen().contains("out_of_range"), "esc dismisses the message");
}

#[test]
fn a_lost_device_is_shown_as_a_warning() {
    let mut rig = Rig::open("cassette", 80, 24);
    rig.link.set_warning("audio device lost: running on the null backend");
    assert!(rig.screen().contains("⚠ audio device lost: running on the null backend"));
}

#[test]
fn keys_drive_the_engine() {
    let mut rig = Rig::open("frippertronics", 80, 24);
    rig.keys("r");
    rig.wait(0.1);
    assert_eq!(rig.mode(0), HeadMode::Record);
    rig.keys("d");
    rig.wait(0.1);
    assert_eq!(rig.mode(0), HeadMode::Dub);
    rig.keys(" ");
    rig.wait(0.1);
    assert_eq!(rig.mode(0), HeadMode::Stop);
    rig.keys(" ");
    rig.wait(0.1);
    assert_eq!(rig.mode(0), HeadMode::Play);
    rig.keys("<tab>e");
    rig.wait(0.1);
    assert_eq!(rig.mode(1), HeadMode::Erase);
    assert_eq!(rig.mode(0), HeadMode::Play, "only the selected track changes");

    let speed = |rig: &mut Rig, t: usize| {
        rig.keys("");
        rig.app.snapshot.tracks()[t].params.get(Param::Speed)
    };
    rig.keys("1<");
    rig.wait(0.01);
    assert_eq!(speed(&mut rig, 0), 0.5);
    rig.keys(">>");
    rig.wait(0.01);
    assert_eq!(speed(&mut rig, 0), 2.0, "presses add up before the engine answers");
    rig.keys("v");
    rig.wait(0.01);
    assert_eq!(speed(&mut rig, 0), -2.0);
    rig.keys(".");
    rig.wait(0.01);
    let up = speed(&mut rig, 0);
    assert!((up / -2.0 - 2f32.powf(1.0 / 120.0)).abs() < 1e-4, "a tenth of a semitone: {up}");

    // Feedback is the fourth parameter: coarse steps 0.05, fine 0.01.
    rig.keys("<right><right><right>==+");
    rig.wait(0.01);
    rig.keys("");
    let feedback = rig.app.snapshot.tracks()[0].params.get(Param::Feedback);
    assert!((feedback - (0.93 + 0.11)).abs() < 1e-5 || feedback == 1.0, "{feedback}");

    rig.keys("mo");
    rig.wait(0.01);
    rig.keys("");
    let track = rig.app.snapshot.tracks()[0];
    assert!(track.muted && track.soloed);
}

#[test]
fn undo_takes_back_a_recording() {
    let mut rig = Rig::open("disintegration", 80, 24);
    rig.keys("r");
    rig.wait(1.0);
    rig.keys("p");
    rig.wait(0.5);
    assert!(rig.link.engine().tape(0).expect("track 1").iter().any(|x| x.abs() > 0.01));
    rig.keys("u");
    rig.wait(1.0);
    assert!(rig.link.engine().tape(0).expect("track 1").iter().all(|x| x.abs() < 1e-6));
}

#[test]
fn unsaved_changes_are_marked_saved_and_asked_about() {
    let dir = std::env::temp_dir().join(format!("ferrotape-tui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mine.toml");
    let mut rig = Rig::open("frippertronics", 80, 24);
    rig.app.patch_path = Some(path.clone());
    assert!(!rig.screen().contains("unsaved"));
    // Mode changes do not belong in a patch; parameters do.
    rig.keys("r");
    rig.wait(0.05);
    assert!(!rig.screen().contains("unsaved"));
    rig.keys("<right><right><right>-");
    rig.wait(0.05);
    assert!(rig.screen().contains("● unsaved"));
    assert_eq!(rig.keys("q"), Exit::InputClosed, "quit asks first");
    assert!(rig.screen().contains("lose the unsaved changes"));
    rig.keys("n<ctrl+s>");
    let screen = rig.screen();
    assert!(!screen.contains("unsaved") && screen.contains("saved "), "{screen}");
    let saved = Patch::load(&path).expect("saved patch loads");
    assert!((saved.tracks[0].params.get(Param::Feedback) - 0.88).abs() < 1e-6);
    assert_eq!(saved.tracks[0].params.get(Param::Length), 7.3);
    assert_eq!(rig.keys("q"), Exit::Quit, "nothing unsaved: quit at once");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_save_writes_what_is_playing_loop_lengths_and_mutes_included() {
    use ferrotape::engine::{Command, TapeLength, TrackAction};
    let dir = std::env::temp_dir().join(format!("ferrotape-tui-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("live.toml");
    let mut rig = Rig::open("frippertronics", 80, 24);
    rig.app.patch_path = Some(path.clone());
    // Track 1's loop shortened live (MIDI, an events file), track 2 muted.
    rig.link.send(Command::Set { track: 0, param: Param::Length, value: 3.25 });
    rig.link.send(Command::Track { track: 1, action: TrackAction::Mute });
    rig.wait(0.05);
    assert!(rig.screen().contains("● unsaved"));
    rig.keys("<ctrl+s>");
    let saved = Patch::load(&path).expect("saved patch loads");
    assert_eq!(saved.tracks[0].length, TapeLength::Fixed(3.25));
    assert_eq!(saved.tracks[0].max_length, Some(7.3), "the tape it had stays");
    assert!(saved.tracks[1].mute);
    assert!(!rig.screen().contains("unsaved"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn quitting_with_changes_needs_a_yes() {
    let mut rig = Rig::open("cassette", 80, 24);
    rig.keys("<right>=");
    rig.wait(0.01);
    assert_eq!(rig.keys("q<esc>"), Exit::InputClosed);
    assert_eq!(rig.keys("qy"), Exit::Quit);
}

#[test]
fn save_as_writes_a_new_file_and_load_opens_it() {
    let dir = std::env::temp_dir().join(format!("ferrotape-tui-as-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("copy.toml");
    let mut rig = Rig::open("cassette", 80, 24);
    rig.keys("<ctrl+a>");
    // The prompt starts with the current path; replace it.
    let clear: String = "<backspace>".repeat(40);
    rig.keys(&format!("{clear}{}<enter>", path.display()));
    assert!(Path::new(&path).is_file(), "{}", rig.screen());
    rig.app.patch_dirs = vec![dir.clone()];
    rig.keys("<ctrl+o><enter>");
    assert_eq!(rig.app.patch_path.as_deref(), Some(path.as_path()));
    assert!(rig.screen().contains(&format!("opened {}", path.display())));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn clicking_a_strip_selects_its_track() {
    use crossterm::event::{Event, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut rig = Rig::open("airports", 80, 24);
    rig.keys("");
    let strip = rig.app.layout(rig.app.area).strips[3];
    let mut events = ScriptedEvents::new();
    let click = |row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 10,
        row,
        modifiers: KeyModifiers::NONE,
    };
    events.push(Event::Mouse(click(strip.y + 1)));
    run(&mut rig.terminal, &mut rig.app, &mut rig.link, events).expect("loop");
    assert_eq!(rig.app.selected_track, 3);
    assert_eq!(rig.link.selected_track(), Some(3), "MIDI bindings on \"selected\" follow the click");
}

/// A link that records every command before passing it on.
struct Recorder {
    inner: LocalLink,
    sent: Vec<Command>,
}

impl InstrumentLink for Recorder {
    fn send(&mut self, command: Command) -> bool {
        self.sent.push(command);
        self.inner.send(command)
    }
    fn poll(&mut self) -> Option<ferrotape::engine::EngineSnapshot> {
        self.inner.poll()
    }
    fn status(&self) -> ferrotape::tui::LinkStatus {
        self.inner.status()
    }
    fn load(
        &mut self,
        path: &std::path::Path,
        config: &ferrotape::engine::EngineConfig,
    ) -> Result<(), String> {
        self.inner.load(path, config)
    }
}

#[test]
fn keys_send_the_expected_commands() {
    let path = PathBuf::from("patches/frippertronics.toml");
    let patch = Patch::load(&path).expect("example patch");
    let mut link = Recorder { inner: LocalLink::for_tests(patch.engine_config()), sent: Vec::new() };
    let mut app = App::new(KeyMap::defaults(), patch, Some(path));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    run(&mut terminal, &mut app, &mut link, ScriptedEvents::keys("2rd u<<right>=_mo")).expect("loop");
    let track = |action| Command::Track { track: 1, action };
    assert_eq!(
        link.sent,
        vec![
            track(TrackAction::Record),
            track(TrackAction::Dub),
            track(TrackAction::Stop),
            track(TrackAction::Undo),
            Command::Set { track: 1, param: Param::Speed, value: 0.5 },
            Command::Nudge { track: 1, param: Param::LevelDb, delta: 1.0 },
            Command::Nudge { track: 1, param: Param::LevelDb, delta: -0.1 },
            track(TrackAction::Mute),
            track(TrackAction::Solo),
        ]
    );
}

/// Select buttons and a knob on the selected track's speed.
const SELECT_MAP: &str = r#"
[[midi]]
cc = 58
select = "previous"

[[midi]]
cc = 59
select = "next"

[[midi]]
note = 40
select = 4

[[midi]]
cc = 21
set = "speed"
mode = "trigger"
value = 0.5
"#;

fn select_bindings() -> Vec<ferrotape::midi_map::MidiBinding> {
    ferrotape::midi_map::MidiMap::parse(SELECT_MAP, Path::new("select.toml")).expect("map").bindings
}

/// The strip marked as selected on the screen: "▶ 3 backwards" -> 3.
fn marked_track(screen: &str) -> Option<usize> {
    screen
        .lines()
        .find_map(|line| line.trim_start_matches('"').strip_prefix("▶ ")?.split(' ').next()?.parse().ok())
}

#[test]
fn midi_select_moves_the_screen_and_the_screen_moves_midi() {
    let mut rig = Rig::open("airports", 80, 40);
    rig.link = LocalLink::for_tests(rig.app.patch.engine_config()).with_midi_bindings(&select_bindings());
    assert_eq!(marked_track(&rig.screen()), Some(1));

    // Next, next, previous: the screen follows, one frame later at most.
    rig.link.midi_in(&[0xB0, 59, 127, 0xB0, 59, 0, 0xB0, 59, 127, 0xB0, 59, 0]);
    assert_eq!(marked_track(&rig.screen()), Some(3));
    assert_eq!(rig.app.selected_track, 2);
    rig.link.midi_in(&[0xB0, 58, 127, 0xB0, 58, 0]);
    assert_eq!(marked_track(&rig.screen()), Some(2));
    // Select 4 directly from a pad.
    rig.link.midi_in(&[0x90, 40, 100, 0x80, 40, 0]);
    assert_eq!(marked_track(&rig.screen()), Some(4));

    // The knob on "selected" acts on the track the screen shows selected…
    rig.link.midi_in(&[0xB0, 21, 127]);
    rig.wait(0.01);
    rig.keys("");
    let speeds = |rig: &Rig| -> Vec<f32> {
        rig.app.snapshot.tracks().iter().map(|t| t.params.get(Param::Speed)).collect()
    };
    assert_eq!(speeds(&rig)[3], 0.5, "{:?}", speeds(&rig));
    // …and after the screen's own selection (key 2) MIDI acts on track 2.
    rig.keys("2");
    assert_eq!(marked_track(&rig.screen()), Some(2));
    rig.link.midi_in(&[0xB0, 21, 0, 0xB0, 21, 127]);
    rig.wait(0.01);
    rig.keys("");
    assert_eq!(speeds(&rig)[1], 0.5, "{:?}", speeds(&rig));
    assert_eq!(speeds(&rig).iter().filter(|s| **s == 0.5).count(), 2, "only tracks 4 and 2");
    // Next wraps round from the last track (airports has 5).
    rig.keys("5");
    rig.link.midi_in(&[0xB0, 59, 127]);
    assert_eq!(marked_track(&rig.screen()), Some(1));
}

/// A command sink for a router whose commands do not matter here.
struct Discard;

impl ferrotape::bridge::CommandSink for Discard {
    fn send(&mut self, _command: Command, _at: std::time::Instant) -> bool {
        true
    }
}

#[test]
fn the_screen_over_a_live_session_follows_its_midi_selection() {
    use ferrotape::io::{AudioOptions, BackendKind};
    use ferrotape::live::{LiveOptions, LiveSession};
    use ferrotape::midi_map::MidiRouter;
    use ferrotape::tui::live_link::LiveLink;

    let path = PathBuf::from("patches/airports.toml");
    let scratch = std::env::temp_dir().join(format!("ferrotape-tui-live-{}", std::process::id()));
    let options = LiveOptions {
        audio: AudioOptions { backend: BackendKind::Null, ..AudioOptions::default() },
        virtual_midi: false,
        takes_dir: scratch.join("takes"),
        autosave: false,
        ..LiveOptions::default()
    };
    let session = LiveSession::start(&path, options, false).expect("a null session");
    // The session's MIDI thread routes with a router on this selection; this
    // one does the same from the test, with the same bindings.
    let mut router = MidiRouter::new(&select_bindings(), session.selected_track());
    let shared = session.selected_track();
    let mut link = LiveLink::new(session);
    let mut app = App::new(KeyMap::defaults(), Patch::load(&path).expect("patch"), Some(path));
    app.color = false;
    let mut terminal = Terminal::new(TestBackend::new(80, 40)).expect("test terminal");
    let mut screen = |app: &mut App, link: &mut LiveLink, keys: &str| {
        run(&mut terminal, app, link, ScriptedEvents::keys(keys)).expect("loop");
        terminal.backend().to_string()
    };
    let mut midi = |bytes: &[u8]| router.feed(bytes, std::time::Instant::now(), &mut Discard);

    let first = screen(&mut app, &mut link, "");
    assert_eq!(marked_track(&first), Some(1));
    let header = first.lines().next().unwrap_or_default();
    assert_eq!(header.matches("48000 Hz · 256 fr").count(), 1, "rate and block once: {header}");
    assert_eq!(header.matches("Hz").count(), 1, "{header}");
    midi(&[0x90, 40, 100]);
    assert_eq!(marked_track(&screen(&mut app, &mut link, "")), Some(4), "the screen follows MIDI");
    midi(&[0xB0, 58, 127]);
    assert_eq!(marked_track(&screen(&mut app, &mut link, "")), Some(3));
    // The screen's selection (tab, then a click-free key) drives MIDI's.
    screen(&mut app, &mut link, "<tab>");
    assert_eq!(shared.get(), 3, "tab from track 3 selects track 4 for MIDI too");
    screen(&mut app, &mut link, "1");
    assert_eq!(shared.get(), 0);
    midi(&[0xB0, 59, 127]);
    assert_eq!(
        marked_track(&screen(&mut app, &mut link, "")),
        Some(2),
        "MIDI next moves on from the screen's choice"
    );
    link.into_session().stop();
    std::fs::remove_dir_all(&scratch).ok();
}

/// What a rig with no sound card shows: the null backend's header and the
/// session's fallback warning, shortened for the line the way the live link
/// does it.
struct NoDeviceLink(LocalLink);

impl NoDeviceLink {
    fn full_warning() -> String {
        let problem = ferrotape::io::audio::no_device_message(
            "alsa:default: The requested audio device is not available. It may have been disconnected.",
            None,
        );
        format!("no audio device ({problem}): running on the null backend")
    }
}

impl InstrumentLink for NoDeviceLink {
    fn send(&mut self, command: Command) -> bool {
        self.0.send(command)
    }
    fn poll(&mut self) -> Option<ferrotape::engine::EngineSnapshot> {
        self.0.poll()
    }
    fn status(&self) -> ferrotape::tui::LinkStatus {
        let full = NoDeviceLink::full_warning();
        ferrotape::tui::LinkStatus {
            backend: "null audio (no hardware)".into(),
            sample_rate: 48_000,
            buffer_frames: 256,
            warning: ferrotape::tui::live_link::without_parentheses(&full),
            warning_details: full,
            warning_log: Some(PathBuf::from("/home/me/.local/state/ferrotape/audio.log")),
            ..self.0.status()
        }
    }
    fn load(&mut self, path: &Path, config: &ferrotape::engine::EngineConfig) -> Result<(), String> {
        self.0.load(path, config)
    }
}

#[test]
fn the_no_device_warning_is_one_line_with_its_details_behind_a_key() {
    let path = PathBuf::from("patches/frippertronics.toml");
    for (width, height) in [(80u16, 24u16), (120, 40), (60, 20)] {
        let patch = Patch::load(&path).expect("example patch");
        let mut link = NoDeviceLink(LocalLink::for_tests(patch.engine_config()));
        let mut app = App::new(KeyMap::defaults(), patch, Some(path.clone()));
        app.color = false;
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        let mut screen = |app: &mut App, link: &mut NoDeviceLink, keys: &str| {
            run(&mut terminal, app, link, ScriptedEvents::keys(keys)).expect("loop");
            terminal.backend().to_string()
        };
        let main = screen(&mut app, &mut link, "");
        let rows: Vec<&str> = main.lines().map(|l| l.trim_matches('"')).collect();
        // The header names the rate and the block once.
        assert_eq!(rows[0].matches("Hz").count(), if width >= 80 { 1 } else { 0 }, "{}", rows[0]);
        assert_eq!(rows[0].matches("256").count(), if width >= 80 { 1 } else { 0 }, "{}", rows[0]);
        // The warning: one row, the strips straight after it.
        let warning = rows[2];
        assert!(warning.trim_start().starts_with('⚠'), "{main}");
        assert!(warning.trim_end().ends_with("press w for details"), "{warning}");
        assert!(rows[3].starts_with("▶ 1"), "the warning takes one row:\n{main}");
        if width >= 80 {
            assert!(warning.contains("⚠ no audio device: running on the null backend — "), "{warning}");
        } else {
            assert!(warning.contains('…'), "cut to fit: {warning}");
        }
        if width != 60 {
            insta::assert_snapshot!(format!("no_device_{width}x{height}"), main);
        }
        // `w` shows it all, `esc` closes it.
        let details = screen(&mut app, &mut link, "w");
        // The panel's text, its rows joined (inside the borders).
        let panel: Vec<&str> = details
            .lines()
            .filter_map(|l| {
                let inner = l.split_once('│')?.1;
                Some(inner.rsplit_once('│').map_or(inner, |(text, _)| text).trim())
            })
            .collect();
        let panel = panel.join(" ");
        for words in
            ["requested audio device", "try --audio null", "running on the null backend", "audio.log"]
        {
            assert!(panel.contains(words), "{words}:\n{details}");
        }
        if width == 80 {
            insta::assert_snapshot!("no_device_details_80x24", details);
        }
        assert!(!screen(&mut app, &mut link, "<esc>").contains("┌ Warning"));
    }
}

#[test]
fn w_without_a_warning_says_all_is_well() {
    let mut rig = Rig::open("cassette", 80, 24);
    assert!(rig.screen().lines().nth(2).is_some_and(|l| l.contains("▶ 1")), "no warning, no message row");
    rig.keys("w");
    assert!(rig.screen().contains("no warning: all is well"));
}

#[test]
fn the_header_shows_the_grid_and_a_quantized_press_waits_in_its_strip() {
    let mut rig = Rig::open("in_time", 100, 24);
    rig.wait(0.4);
    rig.keys("r");
    rig.wait(0.05);
    let screen = rig.screen();
    assert!(screen.contains("96.0 BPM 1.1 internal locked"), "{screen}");
    let strip = screen.lines().find(|l| l.contains("rhythm")).expect("the rhythm strip");
    assert!(strip.contains("…REC"), "{strip}");
    assert_eq!(rig.mode(0), HeadMode::Play, "not before the bar line");
    rig.wait(2.2);
    assert_eq!(rig.mode(0), HeadMode::Record, "at bar 2");
    let screen = rig.screen();
    assert!(screen.contains("96.0 BPM 2.1"), "{screen}");
}
