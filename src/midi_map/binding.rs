//! What a control does: bindings as plain `Copy` data, and the arithmetic
//! that turns a 7-bit control value into a parameter value.

use crate::engine::{Param, TrackAction, MAX_TRACKS};

/// Which MIDI channel a binding listens to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelFilter {
    Any,
    /// 0-based channel, 0-15 (written 1-16 in files).
    Only(u8),
}

impl ChannelFilter {
    pub fn matches(self, channel: u8) -> bool {
        match self {
            ChannelFilter::Any => true,
            ChannelFilter::Only(only) => only == channel,
        }
    }
}

/// The physical control: a controller number or a key/pad, 0-127.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Control {
    Cc(u8),
    Note(u8),
}

/// Which track a binding acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackTarget {
    /// 1-based track number, 1-16, as written in files.
    Number(u8),
    /// Whichever track is selected when the message arrives.
    Selected,
}

/// Moving the track selection (shared with the screen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SelectTrack {
    Next,
    Previous,
    /// 1-based track number.
    Number(u8),
}

/// What a binding drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingTarget {
    /// A head-mode or mixer action (play, dub, mute, undo, …).
    Action(TrackAction),
    /// A per-track parameter.
    Param(Param),
    /// The track selection; produces no engine command.
    Select(SelectTrack),
    /// Continuous erase while held: `erase` follows the control (CC value
    /// or note velocity) and returns to 0 on release (CC 0 or note off).
    ErasePressure,
    /// Start or stop recording a take (`do = "take"`): a session-wide
    /// switch, not an engine command.
    Take,
}

/// How a parameter value is spread over the control's travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    Linear,
    /// Equal ratios per step (geometric): right for Hz, seconds and speed
    /// ratios. The range must not include or cross 0.
    Exponential,
    /// Travel squared: fine control near `min`, for depths such as wow,
    /// flutter and erase where small values matter most.
    Squared,
}

impl Curve {
    pub const NAMES: [&'static str; 3] = ["linear", "exponential", "squared"];

    pub fn name(self) -> &'static str {
        match self {
            Curve::Linear => "linear",
            Curve::Exponential => "exponential",
            Curve::Squared => "squared",
        }
    }

    pub fn from_name(name: &str) -> Option<Curve> {
        match name {
            "linear" => Some(Curve::Linear),
            "exponential" => Some(Curve::Exponential),
            "squared" => Some(Curve::Squared),
            _ => None,
        }
    }

    /// Map `x` (0-1 of the control's travel) onto `min..=max`. The result is
    /// always finite and between `min` and `max`, whatever `x` is.
    pub fn map(self, x: f32, min: f32, max: f32) -> f32 {
        let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        let value = match self {
            Curve::Linear => min + (max - min) * x,
            Curve::Squared => min + (max - min) * x * x,
            Curve::Exponential if min * max > 0.0 => min * (max / min).powf(x),
            // Validation refuses such ranges; fall back rather than produce NaN.
            Curve::Exponential => min + (max - min) * x,
        };
        let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
        if value.is_finite() {
            value.clamp(lo, hi)
        } else {
            lo
        }
    }
}

/// How relative encoders say "turned by n steps" in one CC value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// 1-63 up by that many, 127 down 1 … 64 down 64 (value − 128).
    /// Korg, Arturia "Relative 1", Ableton "Relative (2's Comp.)".
    TwosComplement,
    /// 1-63 up, 65-127 down by (value − 64): bit 6 is the sign.
    /// Ableton "Relative (Signed Bit)", Behringer "Relative 3".
    SignedBit,
    /// 64 is still, 65 up 1, 63 down 1 (value − 64). Novation Launch Control
    /// relative mode, Arturia "Relative 2", Ableton "Relative (Bin Offset)".
    BinaryOffset,
}

impl Encoding {
    pub const NAMES: [&'static str; 3] = ["twos_complement", "signed_bit", "binary_offset"];

    pub fn name(self) -> &'static str {
        match self {
            Encoding::TwosComplement => "twos_complement",
            Encoding::SignedBit => "signed_bit",
            Encoding::BinaryOffset => "binary_offset",
        }
    }

    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "twos_complement" => Some(Encoding::TwosComplement),
            "signed_bit" => Some(Encoding::SignedBit),
            "binary_offset" => Some(Encoding::BinaryOffset),
            _ => None,
        }
    }

    /// Steps turned, -64 to 63, from one 7-bit value.
    pub fn steps(self, value: u8) -> i32 {
        let value = i32::from(value & 0x7F);
        match self {
            Encoding::TwosComplement if value >= 64 => value - 128,
            Encoding::TwosComplement => value,
            Encoding::SignedBit if value >= 64 => -(value - 64),
            Encoding::SignedBit => value,
            Encoding::BinaryOffset => value - 64,
        }
    }
}

/// How control movements become commands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BindingMode {
    /// The control's position sets the value: CC 0-127 (or note-on
    /// velocity) is spread over `min..=max` along `curve`. For parameters,
    /// `min`/`max` are in the parameter's unit and default to its full range.
    /// For erase pressure they are fractions of erase (0-1).
    Absolute { curve: Curve, min: f32, max: f32 },
    /// An endless encoder: each CC value is a number of steps, each step
    /// nudges the parameter by `step` (in the parameter's unit; negative
    /// turns the direction round). For `select`, one step moves one track.
    Relative { encoding: Encoding, step: f32 },
    /// Each press alternates between the target action and `off`.
    /// A CC press is a value rising above 63; a note press is a note-on.
    Toggle { off: TrackAction },
    /// Press does the target action, release does `release` (hold to dub,
    /// let go to play). A CC release is the value falling to 63 or below.
    Momentary { release: TrackAction },
    /// Each press fires once. For a parameter target, the press sets it to
    /// `value` (in the parameter's unit).
    Trigger { value: f32 },
}

impl BindingMode {
    pub const NAMES: [&'static str; 5] = ["absolute", "relative", "toggle", "momentary", "trigger"];

    pub fn name(&self) -> &'static str {
        match self {
            BindingMode::Absolute { .. } => "absolute",
            BindingMode::Relative { .. } => "relative",
            BindingMode::Toggle { .. } => "toggle",
            BindingMode::Momentary { .. } => "momentary",
            BindingMode::Trigger { .. } => "trigger",
        }
    }
}

/// One control bound to one target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MidiBinding {
    pub channel: ChannelFilter,
    pub control: Control,
    pub mode: BindingMode,
    pub target: BindingTarget,
    /// Ignored for `Select` targets, which act on the selection itself.
    pub track: TrackTarget,
}

impl MidiBinding {
    /// Does a message from `channel` on `control` concern this binding?
    pub fn listens_to(&self, channel: u8, control: Control) -> bool {
        self.control == control && self.channel.matches(channel)
    }

    /// Why this binding cannot work, if it cannot: the same rules the file
    /// reader enforces, for bindings built in code or learned.
    pub fn problem(&self) -> Option<String> {
        let number = |n: u8| n <= 127;
        match self.control {
            Control::Cc(n) | Control::Note(n) if !number(n) => {
                return Some(format!("controller or note number {n} is out of range (0 to 127)"))
            }
            _ => {}
        }
        if let ChannelFilter::Only(c) = self.channel {
            if c > 15 {
                return Some(format!("channel {} is out of range (1 to 16)", u16::from(c) + 1));
            }
        }
        if let TrackTarget::Number(n) = self.track {
            if n == 0 || usize::from(n) > MAX_TRACKS {
                return Some(format!("track = {n} is out of range (tracks are numbered 1 to {MAX_TRACKS})"));
            }
        }
        if let BindingTarget::Select(SelectTrack::Number(n)) = self.target {
            if n == 0 || usize::from(n) > MAX_TRACKS {
                return Some(format!("select = {n} is out of range (tracks are numbered 1 to {MAX_TRACKS})"));
            }
        }
        let allowed = allowed_modes(self.target, self.control);
        if !allowed.contains(&self.mode.name()) {
            return Some(format!(
                "mode = \"{}\" does not work with {} on a {}; use {}",
                self.mode.name(),
                target_phrase(self.target),
                control_phrase(self.control),
                quoted_list(allowed)
            ));
        }
        match self.mode {
            BindingMode::Absolute { curve, min, max } => {
                let (lo, hi) = value_range(self.target);
                if !(min.is_finite()
                    && max.is_finite()
                    && (lo..=hi).contains(&min)
                    && (lo..=hi).contains(&max))
                {
                    return Some(format!("min and max must lie within {lo} to {hi}"));
                }
                if curve == Curve::Exponential && min * max <= 0.0 {
                    return Some(format!(
                        "curve = \"exponential\" needs min and max on the same side of 0 (now {min} to {max})"
                    ));
                }
            }
            BindingMode::Relative { step, .. } => {
                let (lo, hi) = value_range(self.target);
                let span = hi - lo;
                if !step.is_finite() || step == 0.0 || step.abs() > span {
                    return Some(format!("step = {step} must be non-zero and at most {span} either way"));
                }
            }
            BindingMode::Trigger { value } => {
                if let BindingTarget::Param(param) = self.target {
                    if !param.contains(value) {
                        let spec = param.spec();
                        return Some(format!(
                            "value = {value} is out of range for {} ({} to {})",
                            spec.key, spec.min, spec.max
                        ));
                    }
                }
            }
            BindingMode::Toggle { .. } | BindingMode::Momentary { .. } => {}
        }
        None
    }
}

/// The range `min`/`max`/`step` live in for a target.
pub(crate) fn value_range(target: BindingTarget) -> (f32, f32) {
    match target {
        BindingTarget::Param(param) => (param.spec().min, param.spec().max),
        BindingTarget::ErasePressure | BindingTarget::Take => (0.0, 1.0),
        // Steps on the selection are whole tracks; the step size is unused.
        BindingTarget::Select(_) | BindingTarget::Action(_) => (-(MAX_TRACKS as f32), MAX_TRACKS as f32),
    }
}

/// Modes a target accepts on a kind of control, default first.
pub fn allowed_modes(target: BindingTarget, control: Control) -> &'static [&'static str] {
    let cc = matches!(control, Control::Cc(_));
    match target {
        BindingTarget::Action(_) => &["trigger", "toggle", "momentary"],
        BindingTarget::Param(_) if cc => &["absolute", "relative", "trigger"],
        // A key has no position to follow except its velocity.
        BindingTarget::Param(_) => &["trigger", "absolute"],
        BindingTarget::Select(SelectTrack::Next | SelectTrack::Previous) if cc => &["trigger", "relative"],
        BindingTarget::Select(_) => &["trigger"],
        BindingTarget::ErasePressure => &["absolute"],
        BindingTarget::Take => &["trigger"],
    }
}

/// A mode by name with its defaults for `target`: full range and a linear
/// curve, two's-complement steps of 1/128 of the range, the opposite action,
/// a parameter's default value. `None` if the name is not a mode, or if the
/// action has no opposite for toggle/momentary.
pub fn default_mode(name: &str, target: BindingTarget) -> Option<BindingMode> {
    let (lo, hi) = value_range(target);
    let action = match target {
        BindingTarget::Action(action) => Some(action),
        _ => None,
    };
    Some(match name {
        "absolute" => BindingMode::Absolute { curve: Curve::Linear, min: lo, max: hi },
        "relative" => {
            BindingMode::Relative { encoding: Encoding::TwosComplement, step: default_step(target) }
        }
        "toggle" => BindingMode::Toggle { off: opposite(action?)? },
        "momentary" => BindingMode::Momentary { release: opposite(action?)? },
        "trigger" => BindingMode::Trigger {
            value: match target {
                BindingTarget::Param(param) => param.default_value(),
                _ => 0.0,
            },
        },
        _ => return None,
    })
}

/// One encoder step: 1/128 of a parameter's range (a full turn of a
/// 128-step encoder sweeps it), or one track for the selection.
pub fn default_step(target: BindingTarget) -> f32 {
    match target {
        BindingTarget::Param(param) => (param.spec().max - param.spec().min) / 128.0,
        BindingTarget::ErasePressure => 1.0 / 128.0,
        BindingTarget::Take => 1.0,
        BindingTarget::Select(_) | BindingTarget::Action(_) => 1.0,
    }
}

/// The action a toggle or momentary binding naturally returns to: the
/// declared `off` or release of the action's button.
pub fn opposite(action: TrackAction) -> Option<TrackAction> {
    action.opposite()
}

pub(crate) fn target_phrase(target: BindingTarget) -> String {
    match target {
        BindingTarget::Action(action) => format!("do = \"{}\"", action.name()),
        BindingTarget::Param(param) => format!("set = \"{}\"", param.key()),
        BindingTarget::Select(SelectTrack::Next) => "select = \"next\"".to_string(),
        BindingTarget::Select(SelectTrack::Previous) => "select = \"previous\"".to_string(),
        BindingTarget::Select(SelectTrack::Number(n)) => format!("select = {n}"),
        BindingTarget::ErasePressure => "do = \"erase_pressure\"".to_string(),
        BindingTarget::Take => "do = \"take\"".to_string(),
    }
}

pub(crate) fn control_phrase(control: Control) -> &'static str {
    match control {
        Control::Cc(_) => "cc",
        Control::Note(_) => "note",
    }
}

pub(crate) fn quoted_list(names: &[&str]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_decode_documented_values() {
        use Encoding::*;
        for (encoding, table) in [
            (TwosComplement, [(1, 1), (63, 63), (127, -1), (64, -64), (0, 0)]),
            (SignedBit, [(1, 1), (63, 63), (65, -1), (127, -63), (64, 0)]),
            (BinaryOffset, [(65, 1), (127, 63), (63, -1), (0, -64), (64, 0)]),
        ] {
            for (value, steps) in table {
                assert_eq!(encoding.steps(value), steps, "{} {value}", encoding.name());
            }
        }
    }

    #[test]
    fn curves_hit_their_ends_and_stay_inside() {
        for curve in [Curve::Linear, Curve::Exponential, Curve::Squared] {
            assert_eq!(curve.map(0.0, 0.25, 4.0), 0.25);
            assert!((curve.map(1.0, 0.25, 4.0) - 4.0).abs() < 1e-5);
            for x in [-1.0, f32::NAN, f32::INFINITY, 0.5, 2.0] {
                let y = curve.map(x, 0.25, 4.0);
                assert!((0.25..=4.0).contains(&y), "{curve:?} {x} -> {y}");
            }
        }
        // Exponential: the middle of the travel is the geometric mean.
        assert!((Curve::Exponential.map(0.5, 0.25, 4.0) - 1.0).abs() < 1e-5);
        assert_eq!(Curve::Squared.map(0.5, 0.0, 1.0), 0.25);
        // Inverted ranges work (a fader that lowers a value as it rises).
        assert_eq!(Curve::Linear.map(1.0, 1.0, 0.0), 0.0);
    }
}
