//! What one frame of the screen costs: five tracks with recorded loops at
//! 120×40, drawn into ratatui's test backend (layout, strips and the
//! buffer diff; the terminal's own write is not included). At 30 frames a
//! second, 5 % of a core is a budget of about 1.7 ms per frame.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrotape::engine::EngineSnapshot;
use ferrotape::patch::Patch;
use ferrotape::tui::link::TEST_SAMPLE_RATE;
use ferrotape::tui::run::draw;
use ferrotape::tui::{run, App, InstrumentLink, KeyMap, LocalLink, ScriptedEvents};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn performed_frames() -> (App, Vec<EngineSnapshot>) {
    let path = PathBuf::from("patches/airports.toml");
    let patch = Patch::load(&path).expect("example patch");
    let mut link = LocalLink::for_tests(patch.engine_config());
    let mut app = App::new(KeyMap::defaults(), patch, Some(path));
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    for keys in ["1r", "2r", "3r", "4r", "5r"] {
        run(&mut terminal, &mut app, &mut link, ScriptedEvents::keys(keys)).expect("loop");
        link.run((TEST_SAMPLE_RATE * 4.0) as usize);
    }
    run(&mut terminal, &mut app, &mut link, ScriptedEvents::keys("1d2p3p4d5p")).expect("loop");
    // A second of frames, so every draw moves the play heads and meters.
    let frames = (0..30)
        .filter_map(|_| {
            link.run((TEST_SAMPLE_RATE / 30.0) as usize);
            link.poll()
        })
        .collect();
    (app, frames)
}

fn bench_draw(c: &mut Criterion) {
    let (mut app, frames) = performed_frames();
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
    let mut next = 0;
    c.bench_function("draw 5 tracks at 120x40", |b| {
        b.iter(|| {
            app.snapshot = frames[next % frames.len()];
            next += 1;
            draw(&mut terminal, black_box(&mut app)).expect("draw");
        })
    });
}

criterion_group!(benches, bench_draw);
criterion_main!(benches);
