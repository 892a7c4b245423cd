//! Stopping a JACK client without killing its process thread inside Rust.
//!
//! libjack (JACK 2) stops a client's process thread in `jack_deactivate`
//! and `jack_client_close` with `pthread_cancel`, and the thread runs with
//! asynchronous cancellation. When the cancel lands while the thread is
//! inside the process callback (on a busy machine the thread can be
//! preempted there for a while), the forced unwind reaches the callback's
//! `catch_unwind` and glibc aborts the whole process ("FATAL: exception not
//! rethrown"): quitting, or restarting the stream for a new patch, would
//! crash the instrument.
//!
//! So the thread is asked to stop first: the callback answers with one
//! silent cycle that returns [`Control::Quit`], after which libjack
//! deactivates the client and ends the thread in its own code, with no Rust
//! frame on its stack. Only then is the client deactivated from outside.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jack::{AsyncClient, Client, Control, NotificationHandler, ProcessHandler, ProcessScope};

const RUNNING: u32 = 0;
const ASKED: u32 = 1;
const STOPPED: u32 = 2;

/// How long a stop waits for the process thread to answer. A server that
/// runs no cycles (stopped, or freewheeling elsewhere) never calls it; the
/// thread is then waiting in libjack, where cancelling it is safe.
const PATIENCE: Duration = Duration::from_secs(2);

/// Time for libjack to finish ending the thread after the last callback
/// returned (a server call and `pthread_exit`, microseconds on an idle
/// machine). Deactivating during it is harmless: the thread is in libjack.
const GRACE: Duration = Duration::from_millis(20);

/// A process handler that can be told to stop from outside.
pub struct Stoppable<P> {
    inner: P,
    state: Arc<AtomicU32>,
}

/// The outside end of a [`Stoppable`].
#[derive(Clone)]
pub struct StopSwitch(Arc<AtomicU32>);

impl<P> Stoppable<P> {
    pub fn new(inner: P) -> (Stoppable<P>, StopSwitch) {
        let state = Arc::new(AtomicU32::new(RUNNING));
        (Stoppable { inner, state: state.clone() }, StopSwitch(state))
    }

    pub fn into_inner(self) -> P {
        self.inner
    }
}

/// What a handler writes in the cycle it stops in (its outputs, silent).
pub trait LastCycle {
    fn last_cycle(&mut self, client: &Client, ps: &ProcessScope);
}

/// A test's or tool's closure client: nothing to silence.
impl<F> LastCycle for jack::contrib::ClosureProcessHandler<(), F> {
    fn last_cycle(&mut self, _: &Client, _: &ProcessScope) {}
}

impl<P: ProcessHandler + LastCycle> ProcessHandler for Stoppable<P> {
    const SLOW_SYNC: bool = P::SLOW_SYNC;

    fn process(&mut self, client: &Client, ps: &ProcessScope) -> Control {
        if self.state.load(Ordering::Acquire) == RUNNING {
            return self.inner.process(client, ps);
        }
        self.inner.last_cycle(client, ps);
        self.state.store(STOPPED, Ordering::Release);
        Control::Quit
    }

    fn buffer_size(&mut self, client: &Client, size: jack::Frames) -> Control {
        self.inner.buffer_size(client, size)
    }

    fn sync(&mut self, client: &Client, state: jack::TransportState, pos: &jack::TransportPosition) -> bool {
        self.inner.sync(client, state, pos)
    }
}

impl StopSwitch {
    /// Ask the process thread to stop and wait until it has returned from
    /// its last callback; false when it did not answer within 2 s.
    pub fn stop_processing(&self) -> bool {
        if self.0.swap(ASKED, Ordering::AcqRel) == STOPPED {
            self.0.store(STOPPED, Ordering::Release);
            return true;
        }
        let deadline = Instant::now() + PATIENCE;
        while self.0.load(Ordering::Acquire) != STOPPED {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(GRACE);
        true
    }
}

/// Deactivate `active` safely: stop its process thread from inside, then
/// deactivate. Returns what the client held, as `AsyncClient::deactivate`.
pub fn deactivate<N, P>(
    active: AsyncClient<N, Stoppable<P>>,
    switch: &StopSwitch,
) -> Result<(Client, N, Stoppable<P>), jack::Error>
where
    N: 'static + Send + Sync + NotificationHandler,
    P: 'static + Send + ProcessHandler + LastCycle,
{
    switch.stop_processing();
    active.deactivate()
}

/// How long a client's close may take before the caller goes on without
/// it. A close is a few server round trips, milliseconds even on a busy
/// machine.
pub const CLOSE_PATIENCE: Duration = Duration::from_secs(5);

/// Run `close` (a client's deactivation and `jack_client_close`) on a
/// thread of its own and wait at most `patience` for it; false when it has
/// not finished by then. libjack has been seen to hang for good inside
/// `jack_client_close` (against a synchronous server, its own threads
/// waiting on each other): quitting, or a test, must not hang with it. When
/// this returns false the client may still call its callbacks, so whatever
/// they read must be left alive. `close` must hold the client by value, so
/// that dropping it closes the client even where it never runs.
pub fn close_within(patience: Duration, close: impl FnOnce() + Send + 'static) -> bool {
    let (done, finished) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("jack-close".into()).spawn(move || {
        close();
        let _ = done.send(());
    });
    match spawned {
        Ok(_) => finished.recv_timeout(patience).is_ok(),
        // No thread to spare: the closure, and the client it holds, was
        // dropped in the attempt, which closed it here, with no deadline.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn a_close_that_finishes_is_waited_for() {
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        let finished = close_within(Duration::from_secs(30), move || {
            std::thread::sleep(Duration::from_millis(20));
            flag.store(true, Ordering::Release);
        });
        assert!(finished);
        assert!(closed.load(Ordering::Acquire), "returned before the close had run");
    }

    #[test]
    fn a_close_that_hangs_is_left_behind() {
        let (_keep, hang) = std::sync::mpsc::channel::<()>();
        let finished = close_within(Duration::from_millis(50), move || {
            let _ = hang.recv();
        });
        assert!(!finished, "a close still waiting was reported finished");
    }
}
