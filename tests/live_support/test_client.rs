//! A test's own JACK client, active until dropped, and stopped the safe
//! way: its process thread is told to quit from inside its callback before
//! the client is deactivated (see `ferrotape::io::jack_native::stopping`:
//! libjack cancels a thread still in the callback, which aborts the whole
//! test process on a busy machine).

use ferrotape::io::jack_native::stopping::{self, LastCycle, StopSwitch, Stoppable};
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
}

impl<P: 'static + Send + ProcessHandler + LastCycle> Drop for TestClient<P> {
    fn drop(&mut self) {
        if let Some(active) = self.active.take() {
            let _ = stopping::deactivate(active, &self.switch);
        }
    }
}
