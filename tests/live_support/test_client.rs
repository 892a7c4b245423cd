//! A test's own JACK client, active until dropped, and stopped the safe
//! way: its process thread is told to quit from inside its callback before
//! the client is deactivated (see `ferrotape::io::jack_native::stopping`:
//! libjack cancels a thread still in the callback, which aborts the whole
//! test process on a busy machine). The close runs with a deadline, so a
//! close that hangs in libjack cannot hang the test run.

use ferrotape::io::jack_native::stopping::{self, LastCycle, StopSwitch, Stoppable, CLOSE_PATIENCE};
use jack::{AsyncClient, Client, ProcessHandler};

pub struct TestClient<P: 'static + Send + ProcessHandler + LastCycle> {
    active: Option<AsyncClient<(), Stoppable<P>>>,
    switch: StopSwitch,
}

impl<P: 'static + Send + ProcessHandler + LastCycle> TestClient<P> {
    pub fn activate(client: Client, handler: P) -> TestClient<P> {
        let (handler, switch) = Stoppable::new(handler);
        let active = client.activate_async((), handler).expect("activate the test client");
        TestClient { active: Some(active), switch }
    }

    pub fn as_client(&self) -> &Client {
        self.active.as_ref().expect("active").as_client()
    }

    /// Stop, deactivate and close the client; false when the close had
    /// not finished after [`CLOSE_PATIENCE`] (what its callbacks read must
    /// then be left alive).
    pub fn close(&mut self) -> bool {
        let Some(active) = self.active.take() else { return true };
        let switch = self.switch.clone();
        let closed = stopping::close_within(CLOSE_PATIENCE, move || {
            let _ = stopping::deactivate(active, &switch);
        });
        if !closed {
            eprintln!("the test's JACK client did not close within {CLOSE_PATIENCE:?}; going on without it");
        }
        closed
    }
}

impl<P: 'static + Send + ProcessHandler + LastCycle> Drop for TestClient<P> {
    fn drop(&mut self) {
        self.close();
    }
}
