//! MIDI output through midir: a named port, or a virtual port of our own.
//! Clock out ([`crate::sync::ClockThread`]) and LED feedback
//! ([`crate::live::feedback`]) send through it on ALSA, CoreMIDI and WinMM;
//! with the `jack` feature, clock and feedback go through the JACK client's
//! own MIDI port instead.

use midir::{MidiOutput, MidiOutputConnection};

use super::midi::CLIENT_NAME;

/// The virtual port clock out creates when no port is named:
/// `ferrotape:clock_out`.
pub const CLOCK_OUT_PORT: &str = "clock_out";

/// Close a midir connection (input or output) without risking the process.
/// midir's JACK backend unregisters a connection's port before it
/// deactivates the client, so a process cycle running at that moment reads
/// a freed port and the whole process crashes. On JACK the connection is
/// therefore left open: an idle client that goes with the process. Other
/// backends close it.
pub fn release<C>(connection: C) {
    if cfg!(feature = "jack") {
        std::mem::forget(connection);
    } else {
        drop(connection);
    }
}

/// An open MIDI output; closed (or, on JACK, released) when dropped.
pub struct MidiOutPort(Option<MidiOutputConnection>);

impl MidiOutPort {
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), midir::SendError> {
        match self.0.as_mut() {
            Some(connection) => connection.send(bytes),
            None => Err(midir::SendError::Other("the port is closed")),
        }
    }
}

impl Drop for MidiOutPort {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            release(connection);
        }
    }
}

/// Open an output: the first port whose name contains `port` (ignoring
/// case), or, with `None`, a virtual port named `virtual_name` that others
/// connect to. Errors name the ports there are.
pub fn open_output(port: Option<&str>, virtual_name: &str) -> Result<MidiOutPort, String> {
    let output = MidiOutput::new(&format!("{CLIENT_NAME}-out")).map_err(|_| unavailable())?;
    match port {
        Some(wanted) => {
            let ports = output.ports();
            let names: Vec<String> = ports.iter().filter_map(|p| output.port_name(p).ok()).collect();
            let lower = wanted.to_lowercase();
            let Some(index) = names.iter().position(|name| name.to_lowercase().contains(&lower)) else {
                return Err(no_such_port(wanted, &names));
            };
            output
                .connect(&ports[index], virtual_name)
                .map(|c| MidiOutPort(Some(c)))
                .map_err(|e| format!("cannot open MIDI output \"{}\": {e}", names[index]))
        }
        None => open_virtual(output, virtual_name).map(|c| MidiOutPort(Some(c))),
    }
}

/// The message for a port name that matches nothing.
pub fn no_such_port(wanted: &str, names: &[String]) -> String {
    if names.is_empty() {
        format!("no MIDI output matches \"{wanted}\": there are no MIDI outputs")
    } else {
        format!("no MIDI output matches \"{wanted}\"; there are: {}", names.join(", "))
    }
}

#[cfg(not(target_os = "windows"))]
fn open_virtual(output: MidiOutput, name: &str) -> Result<MidiOutputConnection, String> {
    use midir::os::unix::VirtualOutput;
    output
        .create_virtual(name)
        .map_err(|e| format!("cannot create the virtual MIDI output {CLIENT_NAME}:{name}: {e}"))
}

#[cfg(target_os = "windows")]
fn open_virtual(_output: MidiOutput, name: &str) -> Result<MidiOutputConnection, String> {
    Err(format!("Windows has no virtual MIDI ports: name an output port for {name} (loopMIDI provides one)"))
}

fn unavailable() -> String {
    "MIDI output is not available: the MIDI system cannot be opened (on Linux: no ALSA sequencer, \
     /dev/snd/seq; with the jack feature: no JACK server)"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_port_names_the_ones_there_are() {
        let names = vec!["Midi Through:Midi Through Port-0 14:0".to_string(), "APC MINI 20:0".to_string()];
        assert_eq!(
            no_such_port("nano", &names),
            "no MIDI output matches \"nano\"; there are: Midi Through:Midi Through Port-0 14:0, APC MINI 20:0"
        );
        assert_eq!(no_such_port("nano", &[]), "no MIDI output matches \"nano\": there are no MIDI outputs");
        // On a machine without a MIDI system, opening says so in one line.
        if let Err(message) = open_output(Some("nothing-called-this"), CLOCK_OUT_PORT) {
            assert!(message.contains("MIDI"), "{message}");
        }
    }
}
