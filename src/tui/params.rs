//! The per-track parameters the screen shows and adjusts, with their steps
//! and how each is written in a strip.

use crate::engine::Param;

/// One adjustable parameter as the screen presents it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScreenParam {
    pub param: Param,
    /// Short label in a strip.
    pub label: &'static str,
    /// Step of a coarse adjustment, in the parameter's unit.
    pub coarse: f32,
    /// Step of a fine adjustment.
    pub fine: f32,
}

const fn p(param: Param, label: &'static str, coarse: f32, fine: f32) -> ScreenParam {
    ScreenParam { param, label, coarse, fine }
}

/// The order Left/Right walks through, and the order a strip lists them.
pub const SCREEN_PARAMS: [ScreenParam; 14] = [
    p(Param::Speed, "speed", 0.1, 0.01),
    p(Param::LevelDb, "level", 1.0, 0.1),
    p(Param::Pan, "pan", 0.1, 0.01),
    p(Param::Feedback, "fb", 0.05, 0.01),
    p(Param::Erase, "erase", 0.05, 0.01),
    p(Param::DriveDb, "drive", 1.0, 0.25),
    p(Param::WowPct, "wow", 0.1, 0.01),
    p(Param::FlutterPct, "flutter", 0.05, 0.01),
    p(Param::DriftPct, "drift", 0.1, 0.01),
    p(Param::HissDb, "hiss", 3.0, 0.5),
    p(Param::Age, "age", 0.05, 0.01),
    p(Param::InertiaS, "inertia", 0.1, 0.02),
    p(Param::Quantize, "quant", 1.0, 1.0),
    p(Param::QuantizeRelative, "rel", 1.0, 1.0),
];

/// A value as a strip shows it: short, with its unit.
pub fn format_value(param: Param, value: f32) -> String {
    if let Some(name) = param.choice_name(value) {
        return name.to_string();
    }
    match param {
        Param::Speed => format!("{value:+.2}×"),
        Param::LevelDb | Param::HissDb if value <= -119.5 => "off".into(),
        Param::LevelDb | Param::DriveDb | Param::HissDb => format!("{value:.1}dB"),
        Param::Pan if value.abs() < 0.005 => "C".into(),
        Param::Pan if value < 0.0 => format!("L{:.2}", -value),
        Param::Pan => format!("R{value:.2}"),
        Param::WowPct | Param::FlutterPct | Param::DriftPct => format!("{value:.2}%"),
        Param::InertiaS | Param::Length => format!("{value:.2}s"),
        _ => format!("{value:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_naturally() {
        assert_eq!(format_value(Param::Speed, -0.5), "-0.50×");
        assert_eq!(format_value(Param::HissDb, -120.0), "off");
        assert_eq!(format_value(Param::Pan, -0.6), "L0.60");
        assert_eq!(format_value(Param::Pan, 0.0), "C");
        assert_eq!(format_value(Param::WowPct, 0.08), "0.08%");
        assert_eq!(format_value(Param::Quantize, 2.0), "bar");
        for sp in SCREEN_PARAMS {
            let stepped = !sp.param.choices().is_empty();
            assert!((sp.fine < sp.coarse || stepped) && sp.fine > 0.0, "{}", sp.label);
        }
    }
}
