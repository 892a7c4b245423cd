//! The writer thread: drains the callback's queues into the session journal
//! and the open takes. Every file error is reported in the status and the
//! failing file is given up; the queues are always drained, so the audio
//! side never waits for a disk.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Producer};
use ringbuf::{HeapCons, HeapProd};

use super::folder::{self, TakeInfo};
use super::journal::{self, JournalLock};
use super::segment::SegmentedWav;
use super::stream::EventLog;
use super::{Block, Drops, Note, Shared, TakeConfig, TakeStatus, FIXED_CHANNELS};
use crate::engine::Command;

/// How long the thread sleeps when both queues are empty. A block of 1024
/// frames lasts 21 ms at 48 kHz, so this keeps the queue nearly empty.
const IDLE: Duration = Duration::from_millis(5);

/// Everything since the engine was built: what a take is re-rendered from.
struct Journal {
    dir: PathBuf,
    input: Option<SegmentedWav>,
    events: Option<EventLog>,
    /// Held while this writer lives: tells other writers the journal is in use.
    lock: JournalLock,
    /// The `inexact` marker has been written.
    marked_inexact: bool,
}

/// One take's files; `None` once a file has failed.
struct TakeFiles {
    info: TakeInfo,
    dir: PathBuf,
    /// First engine frame of the take.
    start: u64,
    /// Engine frame the take ends before, once known.
    stop: Option<u64>,
    mix: Option<SegmentedWav>,
    input: Option<SegmentedWav>,
    stems: Vec<Option<SegmentedWav>>,
    events: Option<EventLog>,
    /// Frames written to the mix (the take's length so far).
    frames: u64,
    /// What the feed had dropped when the take began, and when it ended
    /// (`None`: ends with the writer): a difference means the take lost some.
    drops_at_start: Drops,
    drops_at_stop: Option<Drops>,
}

pub(crate) struct Writer {
    config: TakeConfig,
    shared: Arc<Shared>,
    full: HeapCons<Box<Block>>,
    free: HeapProd<Box<Block>>,
    notes: HeapCons<Note>,
    journal: Option<Journal>,
    takes: Vec<TakeFiles>,
    /// Next engine frame the files expect; earlier frames are already written.
    next_frame: u64,
    last_flush: Instant,
    /// Take folders created (each names the journal, which must then stay).
    takes_made: usize,
    /// The record latency the engine compensates, frames: the last
    /// `RecordLatency` command logged.
    record_latency: u32,
}

impl Writer {
    pub(crate) fn new(
        config: TakeConfig,
        shared: Arc<Shared>,
        full: HeapCons<Box<Block>>,
        free: HeapProd<Box<Block>>,
        notes: HeapCons<Note>,
    ) -> Writer {
        Writer {
            config,
            shared,
            full,
            free,
            notes,
            journal: None,
            record_latency: 0,
            takes: Vec::new(),
            next_frame: 0,
            last_flush: Instant::now(),
            takes_made: 0,
        }
    }

    pub(crate) fn run(mut self) {
        self.journal = self.open_journal();
        loop {
            let quitting = self.shared.quit.load(Ordering::Acquire);
            if !quitting && self.shared.stalled.load(Ordering::Acquire) {
                std::thread::sleep(IDLE);
                continue;
            }
            let mut busy = self.drain_notes();
            while let Some(mut block) = self.full.try_pop() {
                // Notes logged before this block was pushed are already queued.
                self.drain_notes();
                self.write_block(&block);
                // Back to the callback empty: it fills a block from `frames` on.
                block.frames = 0;
                // The free ring has room for every block there is.
                let _ = self.free.try_push(block);
                busy = true;
            }
            let flush_asked = self.shared.flush_now.load(Ordering::Acquire);
            if flush_asked || self.last_flush.elapsed() >= self.config.flush_interval {
                self.flush_all();
                self.shared.flush_now.store(false, Ordering::Release);
            }
            if quitting {
                break;
            }
            if !busy {
                std::thread::sleep(IDLE);
            }
        }
        self.close_all();
        self.shared.finished.store(true, Ordering::Release);
    }

    /// Blocks and commands the feed has dropped so far.
    fn drops(&self) -> Drops {
        (
            self.shared.dropped_blocks.load(Ordering::Relaxed),
            self.shared.dropped_events.load(Ordering::Relaxed),
        )
    }

    /// A command lost on the way means no replay of the journal is exact.
    fn note_lost_commands(&mut self) {
        if let Some(journal) = self.journal.as_mut() {
            if !journal.marked_inexact && self.shared.dropped_events.load(Ordering::Relaxed) > 0 {
                journal.marked_inexact = folder::mark_journal_inexact(&journal.dir).is_ok();
            }
        }
    }

    fn report(&self, error: String) {
        if let Ok(mut status) = self.shared.status.lock() {
            status.last_error = Some(error);
        }
    }

    fn update_status(&self, change: impl FnOnce(&mut TakeStatus)) {
        if let Ok(mut status) = self.shared.status.lock() {
            change(&mut status);
        }
    }

    fn open_journal(&mut self) -> Option<Journal> {
        let made = journal::create_journal(&self.config);
        let (dir, lock) = match made {
            Ok(made) => made,
            Err(e) => {
                self.report(e);
                return None;
            }
        };
        self.remove_unused_journals(&dir);
        let input = SegmentedWav::create(
            &dir.join("input.wav"),
            1,
            self.config.sample_rate,
            self.config.segment_frames,
        );
        let events = EventLog::create(&dir.join("events.toml"), self.config.sample_rate, 0);
        let input = input.map_err(|e| self.report(e)).ok();
        let events = events.map_err(|e| self.report(e)).ok();
        self.update_status(|s| s.journal = Some(dir.clone()));
        Some(Journal { dir, input, events, lock, marked_inexact: false })
    }

    /// Remove, on a thread of its own (deleting gigabytes can take a while
    /// and the queues must keep draining), the journals beside `own` that no
    /// take needs and no running process holds.
    fn remove_unused_journals(&self, own: &std::path::Path) {
        let (shared, root, own) = (self.shared.clone(), self.config.root.clone(), own.to_path_buf());
        let spawned = std::thread::Builder::new().name("journal-trim".into()).spawn(move || {
            let result = journal::remove_unused_journals(&root, Some(&own));
            if let Ok(mut status) = shared.status.lock() {
                match result {
                    Ok(removed) => status.old_journals_removed = Some(removed.len()),
                    Err(e) => {
                        status.old_journals_removed = Some(0);
                        status.last_error = Some(e);
                    }
                }
            }
        });
        if let Err(e) = spawned {
            self.report(format!("cannot start removing unused journals: {e}"));
        }
    }

    fn drain_notes(&mut self) -> bool {
        let mut any = false;
        while let Some(note) = self.notes.try_pop() {
            any = true;
            match note {
                Note::Command(frame, command) => self.log_command(frame, command),
                Note::Acted(frame, track, action) => self.log_acted(frame, track, action),
                Note::Start(frame, drops) => self.start_take(frame, drops),
                Note::Stop(frame, drops) => {
                    if let Some(take) = self.takes.iter_mut().rev().find(|t| t.stop.is_none()) {
                        take.stop = Some(frame.max(take.start));
                        take.drops_at_stop = Some(drops);
                    }
                    self.close_finished_takes();
                }
            }
        }
        any
    }

    fn log_command(&mut self, frame: u64, command: Command) {
        if let Command::RecordLatency { frames } = command {
            self.record_latency = frames;
        }
        let mut errors = Vec::new();
        if let Some(log) = self.journal.as_mut().and_then(|j| j.events.as_mut()) {
            if let Err(e) = log.append(frame, command) {
                errors.push(e);
                self.journal.as_mut().map(|j| j.events.take());
            }
        }
        for take in &mut self.takes {
            let inside = frame >= take.start && take.stop.is_none_or(|stop| frame < stop);
            if let (true, Some(log)) = (inside, take.events.as_mut()) {
                if let Err(e) = log.append(frame, command) {
                    errors.push(e);
                    take.events = None;
                }
            }
        }
        for e in errors {
            self.report(e);
        }
    }

    fn log_acted(&mut self, frame: u64, track: u8, action: crate::engine::TrackAction) {
        let note = format!(
            "{} on track {} acted here (it waited for the grid)",
            action.name(),
            u32::from(track) + 1
        );
        let mut errors = Vec::new();
        if let Some(log) = self.journal.as_mut().and_then(|j| j.events.as_mut()) {
            if let Err(e) = log.append_note(frame, &note) {
                errors.push(e);
            }
        }
        for take in &mut self.takes {
            let inside = frame >= take.start && take.stop.is_none_or(|stop| frame < stop);
            if let (true, Some(log)) = (inside, take.events.as_mut()) {
                if let Err(e) = log.append_note(frame, &note) {
                    errors.push(e);
                }
            }
        }
        for e in errors {
            self.report(e);
        }
    }

    fn start_take(&mut self, frame: u64, drops: Drops) {
        // A take still open is ended where the new one begins.
        for take in &mut self.takes {
            if take.stop.is_none() {
                take.stop = Some(frame.max(take.start));
                take.drops_at_stop = Some(drops);
            }
        }
        self.close_finished_takes();
        let frame = frame.max(self.next_frame);
        let journal = self.journal.as_ref().map(|j| j.dir.clone());
        let dir = match folder::create_take(&self.config, journal.as_deref(), frame, self.record_latency) {
            Ok(made) => made,
            Err(e) => {
                self.report(e);
                self.update_status(|s| {
                    s.recording = false;
                    s.folder = None;
                });
                return;
            }
        };
        let (dir, info) = dir;
        self.takes_made += 1;
        let (rate, segment_frames) = (self.config.sample_rate, self.config.segment_frames);
        let mut errors = Vec::new();
        let mut open = |name: &str, channels: u16| {
            SegmentedWav::create(&dir.join(name), channels, rate, segment_frames)
                .map_err(|e| errors.push(e))
                .ok()
        };
        let mix = open("mix.wav", 2);
        let input = open("input.wav", 1);
        let stems = (0..self.config.tracks).map(|t| open(&crate::render::stem_name(t), 1)).collect();
        let mut events =
            EventLog::create(&dir.join("events.toml"), rate, frame).map_err(|e| errors.push(e)).ok();
        // The take's own log starts from the latency in force, so it can be
        // rendered on its own (without the journal) through the same heads.
        let latency = Command::RecordLatency { frames: self.record_latency };
        if let Some(Err(e)) = events.as_mut().map(|log| log.append(frame, latency)) {
            errors.push(e);
            events = None;
        }
        for e in errors {
            self.report(e);
        }
        self.update_status(|s| {
            s.recording = true;
            s.folder = Some(dir.clone());
            s.seconds = 0.0;
        });
        self.takes.push(TakeFiles {
            info,
            dir,
            start: frame,
            stop: None,
            mix,
            input,
            stems,
            events,
            frames: 0,
            drops_at_start: drops,
            drops_at_stop: None,
        });
    }

    fn write_block(&mut self, block: &Block) {
        let first = block.first_frame;
        let end = first + block.frames as u64;
        if end <= self.next_frame {
            return;
        }
        let mut errors = Vec::new();
        // Frames the callback could not hand over before this block: silence
        // keeps the files in time, but the journal can no longer replay exactly.
        let gap_from = self.next_frame;
        let gap = first.saturating_sub(gap_from);
        // Part of the block may already be written (never, in practice:
        // blocks arrive in order); skip it.
        let skip = self.next_frame.saturating_sub(first) as usize;
        let input = &block.channel(0)[skip..];
        if let Some(journal) = self.journal.as_mut() {
            if gap > 0 {
                write_or_drop(&mut journal.input, |w| w.write_silence(gap), &mut errors);
            }
            write_or_drop(&mut journal.input, |w| w.write(&[input]), &mut errors);
            // A take file about to close a segment gets its final header now:
            // the journal on disk must already reach that far, or a crash
            // could leave a take longer than the journal it replays from.
            if self.takes.iter().any(|t| t.crosses_segment(gap_from, end)) {
                write_or_drop(&mut journal.input, SegmentedWav::flush, &mut errors);
            }
        }
        if gap > 0 {
            for take in &mut self.takes {
                let (lo, hi) = take.window(gap_from, first);
                if hi > lo {
                    take.info.exact = false;
                    let n = hi - lo;
                    write_or_drop(&mut take.mix, |w| w.write_silence(n), &mut errors);
                    write_or_drop(&mut take.input, |w| w.write_silence(n), &mut errors);
                    for stem in &mut take.stems {
                        write_or_drop(stem, |w| w.write_silence(n), &mut errors);
                    }
                    take.frames += n;
                }
            }
            if let Some(journal) = self.journal.as_mut() {
                journal.marked_inexact |= folder::mark_journal_inexact(&journal.dir).is_ok();
            }
        }
        let from = first + skip as u64;
        for take in &mut self.takes {
            let (lo, hi) = take.window(from, end);
            if hi <= lo {
                continue;
            }
            let a = (lo - first) as usize;
            let b = (hi - first) as usize;
            let left = &block.channel(1)[a..b];
            let right = &block.channel(2)[a..b];
            write_or_drop(&mut take.mix, |w| w.write(&[left, right]), &mut errors);
            write_or_drop(&mut take.input, |w| w.write(&[&block.channel(0)[a..b]]), &mut errors);
            for (t, stem) in take.stems.iter_mut().enumerate() {
                let channel = &block.channel(FIXED_CHANNELS + t)[a..b];
                write_or_drop(stem, |w| w.write(&[channel]), &mut errors);
            }
            take.frames += hi - lo;
        }
        self.next_frame = end;
        for e in errors {
            self.report(e);
        }
        let seconds = self.takes.last().map(|t| t.frames as f64 / self.config.sample_rate as f64);
        if let Some(seconds) = seconds {
            self.update_status(|s| s.seconds = seconds);
        }
        self.close_finished_takes();
    }

    /// Close every take whose last frame has been written.
    fn close_finished_takes(&mut self) {
        let next = self.next_frame;
        let (done, open): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.takes).into_iter().partition(|t| t.stop.is_some_and(|s| s <= next));
        self.takes = open;
        for take in done {
            self.close_take(take);
        }
        if self.takes.is_empty() {
            self.update_status(|s| s.recording = false);
        }
    }

    fn close_take(&mut self, mut take: TakeFiles) {
        let mut errors = Vec::new();
        // The journal on disk first, so that it always covers a closed take.
        if let Some(journal) = self.journal.as_mut() {
            write_or_drop(&mut journal.input, SegmentedWav::flush, &mut errors);
        }
        for wav in [take.mix.take(), take.input.take()].into_iter().chain(take.stems.drain(..)).flatten() {
            if let Err(e) = wav.close() {
                errors.push(e);
            }
        }
        if let Some(mut log) = take.events.take() {
            if let Err(e) = log.sync() {
                errors.push(e);
            }
        }
        take.info.frames = Some(take.frames);
        let (blocks, events) = self.drops();
        // Also audio lost at the very end, where no later block shows a gap.
        if take.drops_at_stop.unwrap_or((blocks, events)) != take.drops_at_start {
            take.info.exact = false;
        }
        take.info.dropped_blocks = blocks;
        take.info.dropped_events = events;
        if let Err(e) = folder::write_info(&take.dir, &take.info) {
            errors.push(e);
        }
        for e in errors {
            self.report(e);
        }
        let seconds = take.frames as f64 / self.config.sample_rate as f64;
        self.update_status(|s| s.seconds = seconds);
    }

    fn flush_all(&mut self) {
        self.note_lost_commands();
        let mut errors = Vec::new();
        if let Some(journal) = self.journal.as_mut() {
            write_or_drop(&mut journal.input, SegmentedWav::flush, &mut errors);
            if let Some(log) = journal.events.as_mut() {
                if let Err(e) = log.sync() {
                    errors.push(e);
                }
            }
        }
        for take in &mut self.takes {
            write_or_drop(&mut take.mix, SegmentedWav::flush, &mut errors);
            write_or_drop(&mut take.input, SegmentedWav::flush, &mut errors);
            for stem in &mut take.stems {
                write_or_drop(stem, SegmentedWav::flush, &mut errors);
            }
            if let Some(log) = take.events.as_mut() {
                if let Err(e) = log.sync() {
                    errors.push(e);
                }
            }
        }
        self.last_flush = Instant::now();
        for e in errors {
            self.report(e);
        }
    }

    fn close_all(&mut self) {
        self.note_lost_commands();
        for take in &mut self.takes {
            if take.stop.is_none() {
                take.stop = Some(self.next_frame);
            }
        }
        let takes = std::mem::take(&mut self.takes);
        for take in takes {
            self.close_take(take);
        }
        self.update_status(|s| s.recording = false);
        if let Some(journal) = self.journal.take() {
            let mut errors = Vec::new();
            if let Some(wav) = journal.input {
                if let Err(e) = wav.close() {
                    errors.push(e);
                }
            }
            if let Some(mut log) = journal.events {
                if let Err(e) = log.sync() {
                    errors.push(e);
                }
            }
            // No take names this journal: nothing will ever replay it.
            if self.takes_made == 0 {
                match journal::remove_own(&journal.dir, journal.lock) {
                    Ok(()) => self.update_status(|s| s.journal = None),
                    Err(e) => errors.push(e),
                }
            }
            for e in errors {
                self.report(e);
            }
        }
    }
}

impl TakeFiles {
    /// The part of engine frames `from..to` that belongs to this take.
    fn window(&self, from: u64, to: u64) -> (u64, u64) {
        let lo = from.max(self.start);
        let hi = self.stop.map_or(to, |s| to.min(s));
        (lo, hi.max(lo))
    }

    /// Whether writing engine frames `from..to` closes a segment of one of
    /// the take's files.
    fn crosses_segment(&self, from: u64, to: u64) -> bool {
        let (lo, hi) = self.window(from, to);
        let files = [&self.mix, &self.input].into_iter().chain(&self.stems);
        hi > lo && files.flatten().any(|w| w.crosses_segment(hi - lo))
    }
}

/// Run a file operation; on failure record the error and give the file up.
fn write_or_drop(
    file: &mut Option<SegmentedWav>,
    op: impl FnOnce(&mut SegmentedWav) -> Result<(), String>,
    errors: &mut Vec<String>,
) {
    if let Some(wav) = file.as_mut() {
        if let Err(e) = op(wav) {
            errors.push(e);
            *file = None;
        }
    }
}
