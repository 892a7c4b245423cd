//! Where the OSC server listens: `--osc [PORT]`, `--osc-bind ADDR` and the
//! patch's `[osc]` table (`port`, `bind`), read with line-numbered errors.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use toml::de::DeValue;

use crate::file_error::FileError;
use crate::patch::reader::{fields, string_literal, unknown_key, Field, Source};

/// The port SooperLooper clients expect when none is given.
pub const DEFAULT_PORT: u16 = 9951;

/// Keys of the patch's `[osc]` table.
pub const OSC_KEYS: [&str; 2] = ["port", "bind"];

/// Where to listen. Loopback unless a bind address says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OscOptions {
    /// UDP port; 0 asks the system for a free one.
    pub port: u16,
    pub bind: IpAddr,
}

impl Default for OscOptions {
    fn default() -> Self {
        OscOptions { port: DEFAULT_PORT, bind: IpAddr::V4(Ipv4Addr::LOCALHOST) }
    }
}

impl OscOptions {
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// Whether others than this machine can reach it.
    pub fn is_exposed(&self) -> bool {
        !self.bind.is_loopback()
    }

    /// From the command line: `--osc [PORT]` (`None`: not given, empty:
    /// the default port) and `--osc-bind ADDR`.
    pub fn from_args(port: Option<Option<u16>>, bind: Option<&str>) -> Result<Option<OscOptions>, String> {
        let bind = bind
            .map(|text| {
                text.parse::<IpAddr>()
                    .map_err(|_| format!("--osc-bind {text}: not an IP address (e.g. 127.0.0.1 or 0.0.0.0)"))
            })
            .transpose()?;
        Ok(match (port, bind) {
            (None, None) => None,
            (port, bind) => Some(OscOptions {
                port: port.flatten().unwrap_or(DEFAULT_PORT),
                bind: bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            }),
        })
    }

    /// The command line's choice over the patch's, key by key.
    pub fn merged(args: Option<OscOptions>, patch: Option<OscTable>) -> Option<OscOptions> {
        match (args, patch) {
            (Some(args), _) => Some(args),
            (None, Some(table)) => Some(OscOptions {
                port: table.port.unwrap_or(DEFAULT_PORT),
                bind: table.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            }),
            (None, None) => None,
        }
    }
}

/// The patch's `[osc]` table: its presence turns the server on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OscTable {
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
}

impl OscTable {
    /// The table as the patch writes it back.
    pub fn to_toml(&self) -> String {
        let mut out = String::from("\n[osc]\n");
        if let Some(port) = self.port {
            let _ = writeln!(out, "port = {port}");
        }
        if let Some(bind) = self.bind {
            let _ = writeln!(out, "bind = {}", string_literal(&bind.to_string()));
        }
        out
    }
}

/// Read `[osc]`.
pub(crate) fn read_osc_table(source: &Source<'_>, field: &Field<'_, '_>) -> Result<OscTable, FileError> {
    let DeValue::Table(table) = field.value else {
        return Err(source.error(&field.key_span, field.wrong_type(source, "an [osc] table")));
    };
    let mut osc = OscTable::default();
    for f in fields(table) {
        let err = |m: String| source.error(&f.key_span, format!("osc: {m}"));
        match f.key {
            "port" => {
                let expected = "a UDP port (1 to 65535)";
                let port = f.integer(source, expected).map_err(err)?;
                let port = u16::try_from(port)
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| err(format!("{} is out of range ({expected})", f.quoted(source))))?;
                osc.port = Some(port);
            }
            "bind" => {
                let expected = "an IP address such as \"127.0.0.1\" or \"0.0.0.0\"";
                let text = f.string(source, expected).map_err(err)?;
                let ip = text.parse().map_err(|_| err(format!("{} is not {expected}", f.quoted(source))))?;
                osc.bind = Some(ip);
            }
            other => return Err(err(unknown_key(other, &OSC_KEYS))),
        }
    }
    Ok(osc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::Patch;
    use std::path::Path;

    const TRACK: &str = "version = 1\n[[track]]\nlength = 1.0\n";

    #[test]
    fn the_osc_table_turns_the_server_on_and_reads_back() {
        let patch =
            Patch::parse(&format!("{TRACK}\n[osc]\nport = 9000\nbind = \"0.0.0.0\"\n"), Path::new("p.toml"))
                .expect("patch");
        let table = patch.osc.expect("[osc]");
        assert_eq!(table, OscTable { port: Some(9000), bind: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) });
        let again = Patch::parse(&patch.to_toml(), Path::new("p.toml")).expect("written back");
        assert_eq!(again.osc, patch.osc);
        let options = OscOptions::merged(None, patch.osc).unwrap();
        assert!(options.is_exposed());
        assert_eq!(OscOptions::merged(None, None), None);
    }

    #[test]
    fn bad_osc_tables_say_where_and_why() {
        let bad =
            |text: &str| Patch::parse(&format!("{TRACK}\n[osc]\n{text}\n"), Path::new("p.toml")).unwrap_err();
        assert!(bad("port = 70000").to_string().contains("out of range"), "{}", bad("port = 70000"));
        assert!(bad("port = \"x\"").to_string().contains("UDP port"));
        assert!(bad("bind = \"here\"").to_string().contains("IP address"));
        assert!(bad("colour = 1").to_string().contains("colour"));
    }

    #[test]
    fn command_line_options() {
        assert_eq!(OscOptions::from_args(None, None), Ok(None));
        let default = OscOptions::from_args(Some(None), None).unwrap().unwrap();
        assert_eq!(default, OscOptions::default());
        assert!(!default.is_exposed());
        let exposed = OscOptions::from_args(None, Some("0.0.0.0")).unwrap().unwrap();
        assert!(exposed.is_exposed());
        assert!(OscOptions::from_args(None, Some("nowhere")).is_err());
    }
}
