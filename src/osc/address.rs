//! OSC messages in, checked requests out: the address is split, the loop or
//! track number read, and every argument's type checked. Anything that does
//! not fit is an [`Invalid`] (counted by the server, never a panic).

use rosc::{OscMessage, OscType};

/// Which loops a request is for. SooperLooper numbers loops from 0, with
/// −1 for all and −3 for the selected one; the native namespace numbers
/// tracks from 1, with the same −1 and −3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loops {
    /// 0-based track.
    One(u8),
    All,
    Selected,
}

/// Where a reply goes: the client's `url` and the OSC address `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    pub url: String,
    pub path: String,
}

/// How a button message presses a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Press {
    Hit,
    Down,
    Up,
    UpForce,
}

/// One checked request.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Ping(ReplyTo),
    Register(ReplyTo),
    Unregister(ReplyTo),
    Command {
        loops: Loops,
        press: Press,
        command: String,
    },
    Set {
        loops: Loops,
        control: String,
        value: f32,
    },
    Get {
        loops: Loops,
        control: String,
        reply: ReplyTo,
    },
    /// `interval_ms`: `None` for `register_update` (sent on every change).
    RegisterUpdate {
        loops: Loops,
        control: String,
        interval_ms: Option<i32>,
        reply: ReplyTo,
    },
    UnregisterUpdate {
        loops: Loops,
        control: String,
        reply: ReplyTo,
    },
    GlobalSet {
        control: String,
        value: f32,
    },
    GlobalGet {
        control: String,
        reply: ReplyTo,
    },
    /// `/ferrotape/track/N/set s:param f:value`.
    TrackSet {
        loops: Loops,
        param: String,
        value: f32,
    },
    TrackGet {
        loops: Loops,
        param: String,
        reply: ReplyTo,
    },
    TrackDo {
        loops: Loops,
        action: String,
    },
    TakeStart,
    TakeStop,
    PatchLoad(String),
    PatchSave(Option<String>),
    NativeRegister(ReplyTo),
    NativeUnregister(ReplyTo),
}

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    UnknownAddress,
    WrongArguments,
    BadLoop,
}

const NATIVE: &str = "/ferrotape/";

/// Read one message. `MAX` loop numbers: tracks 0–15.
pub fn parse(message: &OscMessage) -> Result<Request, Invalid> {
    let addr = message.addr.as_str();
    let args = Args(&message.args);
    if let Some(rest) = addr.strip_prefix("/sl/") {
        let (number, verb) = rest.split_once('/').ok_or(Invalid::UnknownAddress)?;
        let loops = loops(number, 0)?;
        return sl_loop(loops, verb, args);
    }
    if let Some(rest) = addr.strip_prefix(NATIVE) {
        return native(rest, args);
    }
    match addr {
        "/ping" => Ok(Request::Ping(args.reply(0)?)),
        "/register" => Ok(Request::Register(args.reply(0)?)),
        "/unregister" => Ok(Request::Unregister(args.reply(0)?)),
        "/set" => Ok(Request::GlobalSet { control: args.string(0)?, value: args.float(1)? }),
        "/get" => Ok(Request::GlobalGet { control: args.string(0)?, reply: args.reply(1)? }),
        _ => Err(Invalid::UnknownAddress),
    }
}

fn sl_loop(loops: Loops, verb: &str, args: Args<'_>) -> Result<Request, Invalid> {
    let press = |press| Ok(Request::Command { loops, press, command: args.string(0)? });
    match verb {
        "hit" => press(Press::Hit),
        "down" => press(Press::Down),
        "up" => press(Press::Up),
        "upforce" => press(Press::UpForce),
        "set" => Ok(Request::Set { loops, control: args.string(0)?, value: args.float(1)? }),
        "get" => Ok(Request::Get { loops, control: args.string(0)?, reply: args.reply(1)? }),
        "register_update" => Ok(Request::RegisterUpdate {
            loops,
            control: args.string(0)?,
            interval_ms: None,
            reply: args.reply(1)?,
        }),
        "register_auto_update" => Ok(Request::RegisterUpdate {
            loops,
            control: args.string(0)?,
            interval_ms: Some(args.int(1)?),
            reply: args.reply(2)?,
        }),
        "unregister_update" | "unregister_auto_update" => {
            Ok(Request::UnregisterUpdate { loops, control: args.string(0)?, reply: args.reply(1)? })
        }
        _ => Err(Invalid::UnknownAddress),
    }
}

fn native(rest: &str, args: Args<'_>) -> Result<Request, Invalid> {
    if let Some(track) = rest.strip_prefix("track/") {
        let (number, verb) = track.split_once('/').ok_or(Invalid::UnknownAddress)?;
        let loops = loops(number, 1)?;
        return match verb {
            "set" => Ok(Request::TrackSet { loops, param: args.string(0)?, value: args.float(1)? }),
            "get" => Ok(Request::TrackGet { loops, param: args.string(0)?, reply: args.reply(1)? }),
            "do" => Ok(Request::TrackDo { loops, action: args.string(0)? }),
            _ => Err(Invalid::UnknownAddress),
        };
    }
    match rest {
        "take/start" => Ok(Request::TakeStart),
        "take/stop" => Ok(Request::TakeStop),
        "patch/load" => Ok(Request::PatchLoad(args.string(0)?)),
        "patch/save" if args.0.is_empty() => Ok(Request::PatchSave(None)),
        "patch/save" => Ok(Request::PatchSave(Some(args.string(0)?))),
        "register" => Ok(Request::NativeRegister(args.reply(0)?)),
        "unregister" => Ok(Request::NativeUnregister(args.reply(0)?)),
        _ => Err(Invalid::UnknownAddress),
    }
}

/// A loop number: −1 all, −3 selected, else `first`-based (0 for
/// SooperLooper, 1 for the native namespace), up to 16 tracks.
fn loops(text: &str, first: i32) -> Result<Loops, Invalid> {
    let n: i32 = text.parse().map_err(|_| Invalid::BadLoop)?;
    match n {
        -1 => Ok(Loops::All),
        -3 => Ok(Loops::Selected),
        n if n >= first && n - first < crate::engine::MAX_TRACKS as i32 => Ok(Loops::One((n - first) as u8)),
        _ => Err(Invalid::BadLoop),
    }
}

/// A message's arguments, read by position and type.
#[derive(Clone, Copy)]
struct Args<'a>(&'a [OscType]);

impl Args<'_> {
    fn string(&self, i: usize) -> Result<String, Invalid> {
        match self.0.get(i) {
            Some(OscType::String(s)) if s.len() <= 1024 => Ok(s.clone()),
            _ => Err(Invalid::WrongArguments),
        }
    }

    /// A number: clients send floats, some send ints or doubles.
    fn float(&self, i: usize) -> Result<f32, Invalid> {
        let value = match self.0.get(i) {
            Some(OscType::Float(f)) => *f,
            Some(OscType::Double(d)) => *d as f32,
            Some(OscType::Int(n)) => *n as f32,
            _ => return Err(Invalid::WrongArguments),
        };
        value.is_finite().then_some(value).ok_or(Invalid::WrongArguments)
    }

    fn int(&self, i: usize) -> Result<i32, Invalid> {
        match self.0.get(i) {
            Some(OscType::Int(n)) => Ok(*n),
            Some(OscType::Float(f)) if f.is_finite() => Ok(*f as i32),
            _ => Err(Invalid::WrongArguments),
        }
    }

    fn reply(&self, i: usize) -> Result<ReplyTo, Invalid> {
        Ok(ReplyTo { url: self.string(i)?, path: self.string(i + 1)? })
    }
}

/// The UDP host and port of an `osc.udp://host:port/` URL. A host that is
/// not a numeric address (other than `localhost`) is not looked up, which
/// could block: `None` for it, and the server answers the packet's sender.
pub fn url_port(url: &str) -> Option<(Option<std::net::IpAddr>, u16)> {
    let rest = url.strip_prefix("osc.udp://")?;
    let hostport = rest.split('/').next()?;
    let (host, port) = hostport.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "localhost" => Some(std::net::IpAddr::from([127, 0, 0, 1])),
        _ => host.parse().ok(),
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(addr: &str, args: Vec<OscType>) -> OscMessage {
        OscMessage { addr: addr.into(), args }
    }
    fn s(text: &str) -> OscType {
        OscType::String(text.into())
    }

    #[test]
    fn sooperlooper_addresses_are_read() {
        assert_eq!(
            parse(&msg("/sl/0/hit", vec![s("record")])),
            Ok(Request::Command { loops: Loops::One(0), press: Press::Hit, command: "record".into() })
        );
        assert_eq!(
            parse(&msg("/sl/-1/down", vec![s("mute")])),
            Ok(Request::Command { loops: Loops::All, press: Press::Down, command: "mute".into() })
        );
        assert_eq!(
            parse(&msg("/sl/-3/set", vec![s("rate"), OscType::Float(0.5)])),
            Ok(Request::Set { loops: Loops::Selected, control: "rate".into(), value: 0.5 })
        );
        let reply = ReplyTo { url: "osc.udp://localhost:9000/".into(), path: "/r".into() };
        assert_eq!(
            parse(&msg(
                "/sl/1/register_auto_update",
                vec![s("state"), OscType::Int(50), s("osc.udp://localhost:9000/"), s("/r")]
            )),
            Ok(Request::RegisterUpdate {
                loops: Loops::One(1),
                control: "state".into(),
                interval_ms: Some(50),
                reply: reply.clone()
            })
        );
        assert_eq!(
            parse(&msg("/ping", vec![s("osc.udp://localhost:9000/"), s("/r")])),
            Ok(Request::Ping(reply))
        );
        assert_eq!(
            parse(&msg("/ferrotape/track/1/set", vec![s("wow_pct"), OscType::Int(1)])),
            Ok(Request::TrackSet { loops: Loops::One(0), param: "wow_pct".into(), value: 1.0 })
        );
        assert_eq!(parse(&msg("/ferrotape/patch/save", vec![])), Ok(Request::PatchSave(None)));
    }

    #[test]
    fn wrong_types_and_unknown_addresses_are_refused() {
        assert_eq!(parse(&msg("/sl/0/hit", vec![OscType::Int(1)])), Err(Invalid::WrongArguments));
        assert_eq!(parse(&msg("/sl/0/hit", vec![])), Err(Invalid::WrongArguments));
        assert_eq!(
            parse(&msg("/sl/0/set", vec![s("rate"), OscType::Float(f32::NAN)])),
            Err(Invalid::WrongArguments)
        );
        assert_eq!(parse(&msg("/sl/0/set", vec![s("rate"), s("fast")])), Err(Invalid::WrongArguments));
        assert_eq!(parse(&msg("/ping", vec![s("only one")])), Err(Invalid::WrongArguments));
        assert_eq!(parse(&msg("/sl/x/hit", vec![s("record")])), Err(Invalid::BadLoop));
        assert_eq!(parse(&msg("/sl/16/hit", vec![s("record")])), Err(Invalid::BadLoop));
        assert_eq!(parse(&msg("/sl/-2/hit", vec![s("record")])), Err(Invalid::BadLoop));
        assert_eq!(parse(&msg("/ferrotape/track/0/do", vec![s("play")])), Err(Invalid::BadLoop));
        assert_eq!(parse(&msg("/sl/0", vec![])), Err(Invalid::UnknownAddress));
        assert_eq!(parse(&msg("/nothing", vec![])), Err(Invalid::UnknownAddress));
        assert_eq!(parse(&msg("", vec![])), Err(Invalid::UnknownAddress));
    }

    #[test]
    fn reply_urls_are_read_without_lookups() {
        let local = Some(std::net::IpAddr::from([127, 0, 0, 1]));
        assert_eq!(url_port("osc.udp://localhost:9000/"), Some((local, 9000)));
        assert_eq!(url_port("osc.udp://127.0.0.1:9000"), Some((local, 9000)));
        assert_eq!(url_port("osc.udp://studio.local:9000/"), Some((None, 9000)));
        assert_eq!(url_port("osc.udp://[::1]:7000/").map(|u| u.1), Some(7000));
        assert_eq!(url_port("osc.tcp://localhost:9000/"), None);
        assert_eq!(url_port("osc.udp://localhost:0/"), None);
        assert_eq!(url_port("garbage"), None);
    }
}
