//! MIDI learn of every action: the learned mode is the action's declared
//! button, and a learned pad then plays the action the way it declares
//! (held, toggled or triggered), for the looper's newer actions too.

use std::time::Instant;

use ferrotape::bridge::CommandSink;
use ferrotape::engine::{Button, Command, TrackAction};
use ferrotape::midi_map::*;

#[derive(Default)]
struct Collect(Vec<Command>);

impl CommandSink for Collect {
    fn send(&mut self, command: Command, _at: Instant) -> bool {
        self.0.push(command);
        true
    }
}

fn feed(router: &mut MidiRouter, bytes: &[u8]) -> Vec<Command> {
    let mut sink = Collect::default();
    router.feed(bytes, Instant::now(), &mut sink);
    sink.0
}

fn act(action: TrackAction) -> Command {
    Command::Track { track: 0, action }
}

/// The binding mode a learned button of `action` must get.
fn declared_mode(action: TrackAction) -> BindingMode {
    match action.button() {
        Button::Momentary { release } => BindingMode::Momentary { release },
        Button::Toggle { off } => BindingMode::Toggle { off },
        Button::Trigger { .. } => BindingMode::Trigger { value: 0.0 },
    }
}

#[test]
fn every_action_learns_its_declared_button_on_pads_and_buttons() {
    for action in TrackAction::ALL {
        let request = LearnRequest::parse(&format!("{}:1", action.name()))
            .unwrap_or_else(|err| panic!("{}: {err}", action.name()));
        for control in [Control::Note(40), Control::Cc(64)] {
            let binding = request.binding_for(2, control);
            assert_eq!(binding.mode, declared_mode(action), "{} on {control:?}", action.name());
            assert_eq!(binding.target, BindingTarget::Action(action));
            assert_eq!(binding.problem(), None, "{}", action.name());
        }
    }
}

#[test]
fn every_action_takes_a_requested_toggle_or_momentary_when_it_has_an_opposite() {
    for action in TrackAction::ALL {
        for mode in ["toggle", "momentary"] {
            let parsed = LearnRequest::parse(&format!("{}:1:{mode}", action.name()));
            match action.opposite() {
                Some(off) => {
                    let binding = parsed.expect("has an opposite").binding_for(0, Control::Note(36));
                    let expected = if mode == "toggle" {
                        BindingMode::Toggle { off }
                    } else {
                        BindingMode::Momentary { release: off }
                    };
                    assert_eq!(binding.mode, expected, "{}", action.name());
                }
                None => assert!(parsed.is_err(), "{} has no {mode} without an off", action.name()),
            }
        }
    }
}

/// Learn `name` on note 36 (channel 1) and return the router playing it.
fn learned_pad(name: &str) -> MidiRouter {
    let (mut control, endpoint) = learn_channel();
    let mut router = MidiRouter::new(&[], SelectedTrack::new(1)).with_learn(endpoint);
    assert!(control.request(LearnRequest::parse(&format!("{name}:1")).expect("parse")));
    assert_eq!(feed(&mut router, &[0x90, 36, 100, 0x80, 36, 0]), vec![], "the learned press is consumed");
    assert!(control.learned().expect("learned").active);
    router
}

const PRESS: [u8; 3] = [0x90, 36, 100];
const RELEASE: [u8; 3] = [0x80, 36, 0];

#[test]
fn learned_pads_play_the_new_actions_as_declared() {
    use TrackAction::*;
    // Press to start, press again to end: both presses send the action.
    for action in [Multiply, Insert, Pause] {
        let mut pad = learned_pad(action.name());
        for _ in 0..2 {
            assert_eq!(feed(&mut pad, &PRESS), vec![act(action)], "{action:?}");
            assert_eq!(feed(&mut pad, &RELEASE), vec![], "{action:?}");
        }
    }
    // Held: down replaces, up plays.
    for action in [Replace, Substitute] {
        let mut pad = learned_pad(action.name());
        assert_eq!(feed(&mut pad, &PRESS), vec![act(action)], "{action:?}");
        assert_eq!(feed(&mut pad, &RELEASE), vec![act(Play)], "{action:?}");
    }
    // Once per press.
    for action in [Trigger, Oneshot, UndoAll, RedoAll] {
        let mut pad = learned_pad(action.name());
        for _ in 0..2 {
            assert_eq!(feed(&mut pad, &PRESS), vec![act(action)], "{action:?}");
            assert_eq!(feed(&mut pad, &RELEASE), vec![], "{action:?}");
        }
    }
}
