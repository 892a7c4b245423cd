//! Per-track parameters: the one table of names, units, ranges and defaults.
//!
//! Patch files, events, MIDI bindings and the screen all name parameters by
//! [`Param::key`], and every range check in the project reads [`Param::spec`],
//! so the declaration below is the single source of truth.

/// Unit and range of one parameter, for validation, help and MIDI scaling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    pub key: &'static str,
    pub unit: &'static str,
    pub min: f32,
    pub max: f32,
    pub default: f32,
}

/// Generates the enum, `ALL` and `spec()` from one list: a parameter cannot
/// be missing from `ALL` (whose order `TrackParams` indexes by) or lack a
/// range.
macro_rules! declare_params {
    ($( $(#[$doc:meta])* $variant:ident = ($key:literal, $unit:literal, $min:expr, $max:expr, $default:expr), )*) => {
        /// A continuously adjustable per-track parameter.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Param {
            $( $(#[$doc])* $variant, )*
        }

        impl Param {
            /// Every parameter, in the order the patch format documents them.
            pub const ALL: [Param; [$(stringify!($variant)),*].len()] = [$(Param::$variant),*];

            pub const fn spec(self) -> ParamSpec {
                match self {
                    $( Param::$variant => ParamSpec {
                        key: $key,
                        unit: $unit,
                        min: $min,
                        max: $max,
                        default: $default,
                    }, )*
                }
            }
        }
    };
}

declare_params! {
    /// Loop length in seconds of tape at speed 1. Changing it at run time
    /// moves the loop end within the tape that was allocated at load.
    Length = ("length", "s", 0.05, 600.0, 4.0),
    /// Target transport speed as a ratio; negative plays in reverse.
    Speed = ("speed", "ratio", -4.0, 4.0, 1.0),
    /// Track output level in dB; -120 means silent.
    LevelDb = ("level_db", "dB", -120.0, 6.0, 0.0),
    /// Stereo position, -1 (left) to 1 (right), equal-power.
    Pan = ("pan", "", -1.0, 1.0, 0.0),
    /// Fraction of the old signal kept per dub pass.
    Feedback = ("feedback", "", 0.0, 1.0, 0.9),
    /// Fraction of the tape erased per pass while playing.
    Erase = ("erase", "", 0.0, 1.0, 0.0),
    /// Gain into the record head in dB, before saturation.
    DriveDb = ("drive_db", "dB", 0.0, 36.0, 0.0),
    /// Peak speed deviation of the wow in percent.
    WowPct = ("wow_pct", "%", 0.0, 5.0, 0.05),
    /// Wow rate in Hz.
    WowHz = ("wow_hz", "Hz", 0.05, 4.0, 0.8),
    /// Peak speed deviation of the flutter waveform in percent.
    FlutterPct = ("flutter_pct", "%", 0.0, 2.0, 0.03),
    /// Flutter fundamental rate in Hz (2nd and 3rd harmonics ride on it).
    FlutterHz = ("flutter_hz", "Hz", 2.0, 30.0, 8.0),
    /// Standard deviation of the slow random speed drift in percent.
    DriftPct = ("drift_pct", "%", 0.0, 5.0, 0.0),
    /// RMS level of the playback hiss in dBFS; -120 means off.
    HissDb = ("hiss_db", "dBFS", -120.0, -20.0, -120.0),
    /// Generation loss per pass, 0 (none) to 1 (a lot).
    Age = ("age", "", 0.0, 1.0, 0.0),
    /// Seconds the motor takes to settle after a speed change.
    InertiaS = ("inertia_s", "s", 0.0, 5.0, 0.3),
    /// What a record, dub, play, stop or clear press waits for: 0 off
    /// (acts at once), 1 the next beat, 2 the next bar, 3 the top of the
    /// sync track's loop. Named in files: see [`QUANTIZE_NAMES`].
    Quantize = ("quantize", "", 0.0, 3.0, 0.0),
    /// 1: a quantized free take starts at the press and ends when it is a
    /// whole number of grid units long (the press's phase, the grid's length).
    QuantizeRelative = ("quantize_relative", "", 0.0, 1.0, 0.0),
}

/// The values of `quantize`, by number.
pub const QUANTIZE_NAMES: [&str; 4] = ["off", "beat", "bar", "loop"];
/// The values of `quantize_relative`, by number.
pub const SWITCH_NAMES: [&str; 2] = ["off", "on"];

/// What a quantized press waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Quantize {
    #[default]
    Off,
    Beat,
    Bar,
    /// The top of the sync track's loop.
    Loop,
}

impl Quantize {
    /// From the parameter's value (rounded to the nearest step).
    pub fn from_value(value: f32) -> Quantize {
        match value.round() as i32 {
            1 => Quantize::Beat,
            2 => Quantize::Bar,
            3 => Quantize::Loop,
            _ => Quantize::Off,
        }
    }
}

impl Param {
    /// The name used in patch files, events and MIDI bindings.
    pub const fn key(self) -> &'static str {
        self.spec().key
    }

    pub fn from_key(key: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.key() == key)
    }

    pub const fn default_value(self) -> f32 {
        self.spec().default
    }

    /// Clamp a value into this parameter's range; NaN becomes the default.
    pub fn clamp(self, value: f32) -> f32 {
        let spec = self.spec();
        if value.is_nan() {
            spec.default
        } else {
            value.clamp(spec.min, spec.max)
        }
    }

    pub fn contains(self, value: f32) -> bool {
        let spec = self.spec();
        value >= spec.min && value <= spec.max
    }

    /// The names of a stepped parameter's values (value `i` is `names[i]`);
    /// empty for a continuous one.
    pub const fn choices(self) -> &'static [&'static str] {
        match self {
            Param::Quantize => &QUANTIZE_NAMES,
            Param::QuantizeRelative => &SWITCH_NAMES,
            _ => &[],
        }
    }

    /// A stepped parameter's value by name.
    pub fn choice_value(self, name: &str) -> Option<f32> {
        self.choices().iter().position(|n| *n == name).map(|i| i as f32)
    }

    /// The name of a stepped parameter's value (nearest step).
    pub fn choice_name(self, value: f32) -> Option<&'static str> {
        let choices = self.choices();
        let index = value.round().clamp(0.0, choices.len().saturating_sub(1) as f32) as usize;
        choices.get(index).copied()
    }
}

/// The current value of every [`Param`] of one track.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackParams {
    values: [f32; Param::ALL.len()],
}

impl Default for TrackParams {
    fn default() -> Self {
        let mut values = [0.0; Param::ALL.len()];
        for (slot, param) in values.iter_mut().zip(Param::ALL) {
            *slot = param.default_value();
        }
        TrackParams { values }
    }
}

impl TrackParams {
    pub fn get(&self, param: Param) -> f32 {
        self.values[param as usize]
    }

    /// Set a value, clamped into the parameter's range.
    pub fn set(&mut self, param: Param, value: f32) {
        self.values[param as usize] = param.clamp(value);
    }
}

/// How a track's record head saturates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SaturationModel {
    /// Jiles-Atherton magnetic hysteresis, solved at 2x oversampling.
    #[default]
    Hysteresis,
    /// A cheap memoryless soft-clipping curve (the "eco" option).
    Soft,
    /// No saturation: the record head is linear (useful for measurements).
    Off,
}

impl SaturationModel {
    pub const NAMES: [&'static str; 3] = ["hysteresis", "soft", "off"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "hysteresis" => Some(Self::Hysteresis),
            "soft" => Some(Self::Soft),
            "off" => Some(Self::Off),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Hysteresis => "hysteresis",
            Self::Soft => "soft",
            Self::Off => "off",
        }
    }
}

/// Whether playback goes through the speed-dependent loss filter and head bump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ToneModel {
    /// HF loss and head bump whose corners follow the tape speed.
    #[default]
    Tape,
    /// Flat playback.
    Flat,
}

impl ToneModel {
    pub const NAMES: [&'static str; 2] = ["tape", "flat"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "tape" => Some(Self::Tape),
            "flat" => Some(Self::Flat),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Tape => "tape",
            Self::Flat => "flat",
        }
    }
}

/// Cost/quality trade-off for the whole engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Quality {
    /// 8-tap windowed-sinc read interpolation (widened above speed 1).
    #[default]
    Full,
    /// 4-point Hermite read interpolation.
    Eco,
}

impl Quality {
    pub const NAMES: [&'static str; 2] = ["full", "eco"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "full" => Some(Self::Full),
            "eco" => Some(Self::Eco),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Eco => "eco",
        }
    }
}

/// How long a track's tape is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TapeLength {
    /// A loop of this many seconds (at speed 1).
    Fixed(f64),
    /// The first record-then-play sets the length; up to `max_seconds` of tape.
    Free { max_seconds: f64 },
}

/// Maximum number of tracks a patch may have; snapshots are sized for it.
pub const MAX_TRACKS: usize = 16;

/// Default capacity of a `free` track, in seconds.
pub const DEFAULT_MAX_LENGTH_S: f64 = 60.0;

/// Default memory for one track's undo levels, in MiB (2^20 bytes): 87 s of
/// changed tape at 48 kHz, shared by the levels it holds.
pub const DEFAULT_UNDO_MB: f64 = 16.0;
/// Allowed `undo_mb` values, MiB.
pub const UNDO_MB_RANGE: std::ops::RangeInclusive<f64> = 1.0..=1024.0;

/// Everything the engine needs to build one track.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackConfig {
    pub name: String,
    pub length: TapeLength,
    /// Seconds of tape allocated for a fixed track when more than its
    /// length: its loop can be lengthened live up to this (a session saved
    /// after shortening a loop keeps the tape it had).
    pub max_length: Option<f64>,
    /// Memory for the undo levels, MiB; never less than one whole tape, so
    /// the latest operation can always be undone.
    pub undo_mb: f64,
    pub params: TrackParams,
    pub saturation: SaturationModel,
    pub tone: ToneModel,
    pub mute: bool,
    pub solo: bool,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            name: String::new(),
            length: TapeLength::Fixed(Param::Length.default_value() as f64),
            max_length: None,
            undo_mb: DEFAULT_UNDO_MB,
            params: TrackParams::default(),
            saturation: SaturationModel::default(),
            tone: ToneModel::default(),
            mute: false,
            solo: false,
        }
    }
}

impl TrackConfig {
    /// Seconds of tape to allocate: a fixed track's length (or its
    /// `max_length`, when longer), a free track's maximum.
    pub fn tape_seconds(&self) -> f64 {
        match self.length {
            TapeLength::Fixed(seconds) => self.max_length.map_or(seconds, |max| max.max(seconds)),
            TapeLength::Free { max_seconds } => max_seconds,
        }
    }
}

/// Everything the engine needs to build itself; a validated patch becomes one.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Seeds every random process (drift, hiss, dropouts); same seed, same output.
    pub seed: u64,
    pub quality: Quality,
    /// Master output level in dB, before the limiter.
    pub master_db: f32,
    /// Level of the live input passed straight to the output (centre), in
    /// dB; -120 turns it off (for interfaces that monitor directly).
    pub monitor_db: f32,
    /// The time grid: source, tempo, bar, the loop that `quantize = "loop"` follows.
    pub sync: super::grid::SyncConfig,
    pub tracks: Vec<TrackConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            seed: 0,
            quality: Quality::Full,
            master_db: 0.0,
            monitor_db: -120.0,
            sync: super::grid::SyncConfig::default(),
            tracks: vec![TrackConfig::default()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_defaults_are_in_range() {
        for param in Param::ALL {
            assert_eq!(Param::from_key(param.key()), Some(param));
            assert!(param.contains(param.default_value()), "{}", param.key());
        }
        assert_eq!(Param::ALL.iter().enumerate().filter(|(i, p)| **p as usize != *i).count(), 0);
    }

    #[test]
    fn set_clamps_and_rejects_nan() {
        let mut params = TrackParams::default();
        params.set(Param::Speed, 9.0);
        assert_eq!(params.get(Param::Speed), 4.0);
        params.set(Param::Speed, f32::NAN);
        assert_eq!(params.get(Param::Speed), 1.0);
    }
}
