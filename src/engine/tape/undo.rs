//! The undo store: the cells every operation changed, saved before they
//! changed, in one preallocated ring of memory.
//!
//! An operation (a record, dub, erase, clear, multiply, insert or replace
//! pass) is one *level*. While it runs, every cell the heads are about to
//! change is saved first, once. The saved cells of a level form *segments*:
//! runs of tape that grow from an anchor cell in one direction, stored one
//! after the other in the ring. A head that turns round, or a loop whose
//! length changes, starts a new segment; a cell may then be saved in two
//! segments of one level, and undoing the newest segment first still leaves
//! its oldest value on the tape.
//!
//! Undo exchanges a level's saved cells with the tape (so the store then
//! holds what redo puts back); redo runs the same exchange in the other
//! order. A new operation forgets what could be redone. When the ring is
//! full, the oldest levels are forgotten. Nothing here allocates after
//! [`UndoStore::new`], and every call does bounded work: saves a few cells,
//! or moves a job forward by a budget.

/// Most levels one track keeps, whatever their size.
pub const MAX_UNDO_LEVELS: usize = 64;
/// Most segments kept across all levels (a head that reverses often while
/// writing makes many).
const MAX_SEGMENTS: usize = 1024;

/// Loop lengths around an operation, in cells; `None` is a free track whose
/// length no take has set yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lengths {
    pub before: Option<usize>,
    pub after: Option<usize>,
}

impl Lengths {
    /// Whether the operation changed the loop's length.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// Saved cells of one run of tape.
#[derive(Clone, Copy, Debug, Default)]
struct Segment {
    /// First saved cell.
    anchor: usize,
    /// Saved cells, counted from the anchor in the segment's direction.
    count: usize,
    /// Loop length the cells were counted in.
    modulus: usize,
    forward: bool,
    /// Position of the anchor's saved value in the ring (absolute, not wrapped).
    base: u64,
}

impl Segment {
    /// The tape cell of the segment's `k`-th saved value.
    #[inline]
    fn cell(&self, k: usize) -> usize {
        let k = k % self.modulus;
        if self.forward {
            (self.anchor + k) % self.modulus
        } else {
            (self.anchor + self.modulus - k) % self.modulus
        }
    }

    /// How far `cell` is from the anchor, in the segment's direction.
    #[inline]
    fn offset_of(&self, cell: usize) -> usize {
        let cell = cell % self.modulus;
        if self.forward {
            (cell + self.modulus - self.anchor) % self.modulus
        } else {
            (self.anchor + self.modulus - cell) % self.modulus
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Level {
    /// Absolute index of the level's first segment.
    first_segment: u64,
    segments: usize,
    /// Ring position of the level's first saved value, and how many it saved.
    pool_start: u64,
    cells: usize,
    lengths: Lengths,
    /// The loop length under which one segment already holds every cell:
    /// nothing more needs saving while it stays.
    complete: Option<usize>,
}

/// An exchange (undo, redo) or a wipe (clear) in progress.
#[derive(Clone, Copy, Debug)]
struct Job {
    level: u64,
    /// How many of the level's segments are finished, in processing order.
    segments_done: usize,
    /// The current segment's offsets still to visit, as two (from, count) runs.
    runs: [(usize, usize); 2],
    /// Undo visits segments newest first; redo and clear oldest first.
    newest_first: bool,
    /// Save then zero each cell (clear) instead of exchanging it.
    zero: bool,
}

/// One track's undo levels and the ring they are saved in.
#[derive(Clone, Debug)]
pub struct UndoStore {
    pool: Vec<f32>,
    segments: Vec<Segment>,
    levels: Vec<Level>,
    /// Absolute index of the oldest level kept, and how many are kept.
    first_level: u64,
    level_count: usize,
    /// Levels (from the oldest) whose operation is on the tape: undoable.
    /// The rest, up to `level_count`, were undone and can be redone.
    applied: usize,
    /// Whether the newest applied level is still saving cells.
    capturing: bool,
    job: Option<Job>,
    /// Levels forgotten because the ring was full.
    forgotten: u64,
}

impl UndoStore {
    /// A store of `pool_cells` saved cells (at least one).
    pub fn new(pool_cells: usize) -> Self {
        UndoStore {
            pool: vec![0.0; pool_cells.max(1)],
            segments: vec![Segment::default(); MAX_SEGMENTS],
            levels: vec![Level::default(); MAX_UNDO_LEVELS],
            first_level: 0,
            level_count: 0,
            applied: 0,
            capturing: false,
            job: None,
            forgotten: 0,
        }
    }

    /// Forget every level.
    pub fn clear(&mut self) {
        self.first_level += self.level_count as u64;
        self.level_count = 0;
        self.applied = 0;
        self.capturing = false;
        self.job = None;
    }

    pub fn undoable(&self) -> usize {
        if self.job.is_some() {
            0
        } else {
            self.applied
        }
    }

    pub fn redoable(&self) -> usize {
        if self.job.is_some() {
            0
        } else {
            self.level_count - self.applied
        }
    }

    pub fn is_capturing(&self) -> bool {
        self.capturing
    }

    pub fn job_active(&self) -> bool {
        self.job.is_some()
    }

    /// Levels forgotten so far to make room for newer ones.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    fn level(&self, absolute: u64) -> &Level {
        &self.levels[(absolute % MAX_UNDO_LEVELS as u64) as usize]
    }

    fn level_mut(&mut self, absolute: u64) -> &mut Level {
        &mut self.levels[(absolute % MAX_UNDO_LEVELS as u64) as usize]
    }

    fn segment(&self, absolute: u64) -> &Segment {
        &self.segments[(absolute % MAX_SEGMENTS as u64) as usize]
    }

    fn segment_mut(&mut self, absolute: u64) -> &mut Segment {
        &mut self.segments[(absolute % MAX_SEGMENTS as u64) as usize]
    }

    #[inline]
    fn pool_index(&self, absolute: u64) -> usize {
        (absolute % self.pool.len() as u64) as usize
    }

    /// Ring position after the newest kept level (where the next value goes),
    /// and the absolute index of the next segment.
    fn heads(&self) -> (u64, u64) {
        if self.level_count == 0 {
            return (self.tail_pool(), self.tail_segment());
        }
        let newest = *self.level(self.first_level + self.level_count as u64 - 1);
        (newest.pool_start + newest.cells as u64, newest.first_segment + newest.segments as u64)
    }

    fn tail_pool(&self) -> u64 {
        if self.level_count == 0 {
            // Nothing kept: the ring starts afresh wherever the last level ended.
            let last = *self.level(self.first_level.wrapping_sub(1));
            return if self.first_level == 0 { 0 } else { last.pool_start + last.cells as u64 };
        }
        self.level(self.first_level).pool_start
    }

    fn tail_segment(&self) -> u64 {
        if self.level_count == 0 {
            let last = *self.level(self.first_level.wrapping_sub(1));
            return if self.first_level == 0 { 0 } else { last.first_segment + last.segments as u64 };
        }
        self.level(self.first_level).first_segment
    }

    /// Start a new level: the operation about to change the tape. Forgets
    /// what could be redone.
    pub fn begin(&mut self, before: Option<usize>) {
        self.job = None;
        self.level_count = self.applied;
        if self.level_count == MAX_UNDO_LEVELS {
            self.forget_oldest();
        }
        let (pool_start, first_segment) = self.heads();
        let absolute = self.first_level + self.level_count as u64;
        *self.level_mut(absolute) = Level {
            first_segment,
            segments: 0,
            pool_start,
            cells: 0,
            lengths: Lengths { before, after: before },
            complete: None,
        };
        self.level_count += 1;
        self.applied = self.level_count;
        self.capturing = true;
    }

    /// The operation is over; `after` is the loop length it left. A level
    /// that saved nothing and changed no length is dropped.
    pub fn end(&mut self, after: Option<usize>) {
        if !self.capturing {
            return;
        }
        self.capturing = false;
        let absolute = self.first_level + self.level_count as u64 - 1;
        let level = self.level_mut(absolute);
        level.lengths.after = after;
        if level.cells == 0 && !level.lengths.changed() {
            self.level_count -= 1;
            self.applied = self.level_count;
        }
    }

    fn forget_oldest(&mut self) {
        if self.level_count == 0 {
            return;
        }
        self.first_level += 1;
        self.level_count -= 1;
        self.applied = self.applied.saturating_sub(1);
        self.forgotten += 1;
    }

    /// Make room for `cells` more saved values (and one more segment) by
    /// forgetting the oldest levels. False when the level being captured
    /// alone would not fit: it is then forgotten too.
    fn make_room(&mut self, cells: usize, new_segment: bool) -> bool {
        loop {
            let (head, next_segment) = self.heads();
            let used = head - self.tail_pool();
            let segments = next_segment - self.tail_segment() + u64::from(new_segment);
            if used + cells as u64 <= self.pool.len() as u64 && segments <= MAX_SEGMENTS as u64 {
                return true;
            }
            if self.level_count <= 1 {
                // The operation being captured is larger than the store.
                self.forget_oldest();
                self.capturing = false;
                return false;
            }
            self.forget_oldest();
        }
    }

    /// Save cell `index` of `cells` (a loop of `modulus` cells) before a head
    /// changes it, with the cells between it and what this level saved
    /// already. Does nothing unless a level is being captured.
    #[inline(always)]
    pub fn save(&mut self, cells: &[f32], index: usize, modulus: usize) {
        if self.capturing {
            self.save_captured(cells, index, modulus);
        }
    }

    /// [`UndoStore::save`] while a level is being captured: kept out of line
    /// so the common case, a head that is not being captured, is one test.
    #[inline(never)]
    fn save_captured(&mut self, cells: &[f32], index: usize, modulus: usize) {
        let absolute = self.first_level + self.level_count as u64 - 1;
        let level = *self.level(absolute);
        if level.complete == Some(modulus) {
            return;
        }
        let last =
            (level.segments > 0).then(|| *self.segment(level.first_segment + level.segments as u64 - 1));
        match last {
            Some(segment) if segment.modulus == modulus => {
                let offset = segment.offset_of(index);
                if offset < segment.count {
                    return;
                }
                // Grow on in the segment's direction, or start the other way
                // from its anchor, whichever reaches the cell sooner: the
                // heads move a few cells a sample and never jump.
                let ahead = offset + 1 - segment.count;
                let behind = modulus - offset;
                if ahead <= behind {
                    self.extend(cells, ahead);
                } else {
                    let anchor = if segment.forward {
                        (segment.anchor + modulus - 1) % modulus
                    } else {
                        (segment.anchor + 1) % modulus
                    };
                    if self.start_segment(anchor, modulus, !segment.forward) {
                        self.extend(cells, behind);
                    }
                }
            }
            _ => {
                if self.start_segment(index, modulus, true) {
                    self.extend(cells, 1);
                }
            }
        }
    }

    fn start_segment(&mut self, anchor: usize, modulus: usize, forward: bool) -> bool {
        if !self.make_room(0, true) {
            return false;
        }
        let (base, next_segment) = self.heads();
        *self.segment_mut(next_segment) = Segment { anchor, count: 0, modulus, forward, base };
        let absolute = self.first_level + self.level_count as u64 - 1;
        self.level_mut(absolute).segments += 1;
        true
    }

    /// Save `n` more cells into the capturing level's newest segment.
    fn extend(&mut self, cells: &[f32], n: usize) {
        if !self.make_room(n, false) {
            return;
        }
        let absolute = self.first_level + self.level_count as u64 - 1;
        let level = *self.level(absolute);
        let id = level.first_segment + level.segments as u64 - 1;
        let mut segment = *self.segment(id);
        let n = n.min(segment.modulus - segment.count);
        for k in segment.count..segment.count + n {
            let slot = self.pool_index(segment.base + k as u64);
            self.pool[slot] = cells[segment.cell(k)];
        }
        segment.count += n;
        *self.segment_mut(id) = segment;
        let level = self.level_mut(absolute);
        level.cells += n;
        if segment.count >= segment.modulus {
            level.complete = Some(segment.modulus);
        }
    }

    /// The value `index` held before the operation being captured changed
    /// it (its current value when it has not changed).
    #[inline]
    pub fn original(&self, cells: &[f32], index: usize) -> f32 {
        if !self.capturing {
            return cells[index];
        }
        let level = *self.level(self.first_level + self.level_count as u64 - 1);
        for s in 0..level.segments as u64 {
            let segment = self.segment(level.first_segment + s);
            if index < segment.modulus {
                let offset = segment.offset_of(index);
                if offset < segment.count {
                    return self.pool[self.pool_index(segment.base + offset as u64)];
                }
            }
        }
        cells[index]
    }

    /// Start wiping a loop of `len` cells (a level of its own, so it can be
    /// undone), sweeping forward from `start_cell`. False when the loop is
    /// larger than the whole store (a tape's store always holds its tape).
    pub fn begin_clear(&mut self, len: usize, start_cell: usize, lengths: Lengths) -> bool {
        self.begin(lengths.before);
        if !self.make_room(len, true) {
            return false;
        }
        let (base, next_segment) = self.heads();
        *self.segment_mut(next_segment) =
            Segment { anchor: 0, count: len, modulus: len, forward: true, base };
        let absolute = self.first_level + self.level_count as u64 - 1;
        let level = self.level_mut(absolute);
        level.segments = 1;
        level.cells = len;
        level.lengths = lengths;
        self.capturing = false;
        self.job = Some(Job {
            level: absolute,
            segments_done: 0,
            runs: split_runs(start_cell % len, len),
            newest_first: false,
            zero: true,
        });
        true
    }

    /// Start undoing the newest applied level; the exchange begins at
    /// `start_cell` when the level's first segment holds it. Returns the
    /// lengths around that level, or `None` when there is nothing to undo.
    pub fn begin_undo(&mut self, start_cell: usize) -> Option<Lengths> {
        if self.job.is_some() || self.applied == 0 {
            return None;
        }
        self.capturing = false;
        let absolute = self.first_level + self.applied as u64 - 1;
        self.applied -= 1;
        Some(self.start_exchange(absolute, true, start_cell))
    }

    /// Start redoing the oldest undone level (see [`UndoStore::begin_undo`]).
    pub fn begin_redo(&mut self, start_cell: usize) -> Option<Lengths> {
        if self.job.is_some() || self.applied == self.level_count || self.capturing {
            return None;
        }
        let absolute = self.first_level + self.applied as u64;
        self.applied += 1;
        Some(self.start_exchange(absolute, false, start_cell))
    }

    fn start_exchange(&mut self, absolute: u64, newest_first: bool, start_cell: usize) -> Lengths {
        let level = *self.level(absolute);
        if level.segments > 0 {
            let first = if newest_first {
                level.first_segment + level.segments as u64 - 1
            } else {
                level.first_segment
            };
            let segment = *self.segment(first);
            let offset = if start_cell < segment.modulus { segment.offset_of(start_cell) } else { 0 };
            let start = if offset < segment.count { offset } else { 0 };
            self.job = Some(Job {
                level: absolute,
                segments_done: 0,
                runs: split_runs(start, segment.count),
                newest_first,
                zero: false,
            });
        }
        level.lengths
    }

    /// Whether the job in progress is a single sweep of one segment (which,
    /// started behind a forward-moving play head, soon outruns it).
    pub fn job_is_one_sweep(&self) -> bool {
        self.job.is_some_and(|job| self.level(job.level).segments == 1)
    }

    /// Move the job forward by at most `budget` cells of `cells`.
    pub fn step_job(&mut self, cells: &mut [f32], budget: usize) {
        let Some(mut job) = self.job else { return };
        let level = *self.level(job.level);
        let mut budget = budget;
        while budget > 0 {
            let id = if job.newest_first {
                level.first_segment + (level.segments - 1 - job.segments_done) as u64
            } else {
                level.first_segment + job.segments_done as u64
            };
            let segment = *self.segment(id);
            for run in job.runs.iter_mut() {
                let n = run.1.min(budget);
                for k in run.0..run.0 + n {
                    let c = segment.cell(k);
                    let slot = self.pool_index(segment.base + k as u64);
                    if job.zero {
                        self.pool[slot] = cells[c];
                        cells[c] = 0.0;
                    } else {
                        std::mem::swap(&mut cells[c], &mut self.pool[slot]);
                    }
                }
                run.0 += n;
                run.1 -= n;
                budget -= n;
            }
            if job.runs.iter().any(|r| r.1 > 0) {
                break;
            }
            job.segments_done += 1;
            if job.segments_done == level.segments {
                self.job = None;
                return;
            }
            let next = if job.newest_first {
                level.first_segment + (level.segments - 1 - job.segments_done) as u64
            } else {
                level.first_segment + job.segments_done as u64
            };
            job.runs = [(0, self.segment(next).count), (0, 0)];
        }
        self.job = Some(job);
    }

    /// Finish any job at once (loading, or a test).
    pub fn finish_job(&mut self, cells: &mut [f32]) {
        while self.job.is_some() {
            self.step_job(cells, usize::MAX / 2);
        }
    }
}

/// A sweep of `count` offsets starting at `start`: from there to the end,
/// then from 0 back up to `start`.
fn split_runs(start: usize, count: usize) -> [(usize, usize); 2] {
    [(start, count - start), (0, start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(store: &mut UndoStore, cells: &mut [f32], index: usize, value: f32) {
        let len = cells.len();
        store.save(cells, index, len);
        cells[index] = value;
    }

    #[test]
    fn sixteen_levels_undo_and_redo_exactly() {
        let mut cells: Vec<f32> = (0..200).map(|i| i as f32).collect();
        let mut store = UndoStore::new(4096);
        let mut history = vec![cells.clone()];
        for level in 0..16 {
            store.begin(Some(200));
            for i in 0..30 {
                let c = (level * 37 + i) % 200;
                write(&mut store, &mut cells, c, -(level as f32) - 1.0);
            }
            store.end(Some(200));
            history.push(cells.clone());
        }
        assert_eq!(store.undoable(), 16);
        for level in (0..16).rev() {
            store.begin_undo(5).unwrap();
            store.step_job(&mut cells, 7);
            store.finish_job(&mut cells);
            assert_eq!(cells, history[level], "after undoing level {}", level + 1);
        }
        assert!(store.begin_undo(0).is_none());
        for expected in &history[1..] {
            store.begin_redo(0).unwrap();
            store.finish_job(&mut cells);
            assert_eq!(&cells, expected);
        }
    }

    #[test]
    fn a_head_that_turns_round_is_undone_exactly() {
        let mut cells: Vec<f32> = (0..100).map(|i| (i as f32).sin()).collect();
        let before = cells.clone();
        let mut store = UndoStore::new(1000);
        store.begin(Some(100));
        // Forward over 10..40, back down to 90 (through the loop's start), forward again.
        let mut path: Vec<usize> = (10..40).collect();
        path.extend((0..50).map(|k| (140 - k) % 100));
        path.extend(90..100);
        path.extend(0..60);
        for (n, &c) in path.iter().enumerate() {
            write(&mut store, &mut cells, c, n as f32 * 0.01);
        }
        store.end(Some(100));
        let after = cells.clone();
        store.begin_undo(33).unwrap();
        store.finish_job(&mut cells);
        assert_eq!(cells, before);
        store.begin_redo(33).unwrap();
        store.finish_job(&mut cells);
        assert_eq!(cells, after);
    }

    #[test]
    fn a_full_store_forgets_the_oldest_levels_first() {
        let mut cells = vec![0.0f32; 100];
        let mut store = UndoStore::new(250);
        for level in 0..5 {
            store.begin(Some(100));
            for c in 0..100 {
                write(&mut store, &mut cells, c, level as f32 + 1.0);
            }
            store.end(Some(100));
        }
        assert_eq!(store.undoable(), 2, "250 cells hold two whole-loop levels");
        assert_eq!(store.forgotten(), 3);
        store.begin_undo(0).unwrap();
        store.finish_job(&mut cells);
        assert!(cells.iter().all(|&c| c == 4.0));
        store.begin_undo(0).unwrap();
        store.finish_job(&mut cells);
        assert!(cells.iter().all(|&c| c == 3.0));
        assert!(store.begin_undo(0).is_none());
    }

    #[test]
    fn clear_is_a_level_and_a_new_operation_forgets_redo() {
        let mut cells: Vec<f32> = (1..=50).map(|i| i as f32).collect();
        let before = cells.clone();
        let mut store = UndoStore::new(500);
        assert!(store.begin_clear(50, 20, Lengths { before: Some(50), after: Some(50) }));
        store.finish_job(&mut cells);
        assert!(cells.iter().all(|&c| c == 0.0));
        store.begin_undo(0).unwrap();
        store.finish_job(&mut cells);
        assert_eq!(cells, before);
        assert_eq!(store.redoable(), 1);
        store.begin(Some(50));
        write(&mut store, &mut cells, 3, 9.0);
        store.end(Some(50));
        assert_eq!(store.redoable(), 0);
        assert_eq!(store.undoable(), 1);
    }

    #[test]
    fn original_reads_what_the_operation_overwrote() {
        let mut cells: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let mut store = UndoStore::new(128);
        store.begin(Some(64));
        for c in 10..20 {
            write(&mut store, &mut cells, c, 0.5);
        }
        for c in 0..64 {
            assert_eq!(store.original(&cells, c), c as f32);
        }
    }

    #[test]
    fn a_length_change_is_part_of_the_level() {
        let mut cells = vec![0.0f32; 100];
        let mut store = UndoStore::new(300);
        store.begin(None);
        for c in 0..40 {
            store.save(&cells, c, 100);
            cells[c] = 1.0;
        }
        store.end(Some(40));
        let lengths = store.begin_undo(0).unwrap();
        assert_eq!(lengths, Lengths { before: None, after: Some(40) });
        store.finish_job(&mut cells);
        assert!(cells.iter().all(|&c| c == 0.0));
    }
}
