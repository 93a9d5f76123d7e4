//! Settings every phase binary takes, from flags or the environment (a flag wins).
//!
//! Python services read `os.environ` or a `pydantic-settings` class; here `clap` derives the parser
//! from a struct, with `env = "PORT"` making each flag fall back to an environment variable, and
//! `--help` written for free.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

/// `--host`, `--port` and `--log-format`, shared by every phase.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on; each phase has its own default (8001 for phase 1, ...). 0 picks a free one.
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// How log lines look: readable text, or one JSON object a line.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Pretty,
    /// One JSON object a line, for a log collector.
    Json,
}

impl ServerArgs {
    /// Binds the listener: `--port` if given, else `default_port`.
    pub fn bind(&self, default_port: u16) -> io::Result<TcpListener> {
        let address = SocketAddr::new(self.host, self.port.unwrap_or(default_port));
        TcpListener::bind(address).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot listen on {address}: {err} (try --port 0 for any free port)"),
            )
        })
    }
}

/// Parses flags and the environment into `T`, as `T::parse()` does, and also reads any setting
/// `NAME` from the file that `NAME_FILE` names: how Docker and Kubernetes hand a process its
/// secrets (`DATABASE_URL_FILE=/run/secrets/database_url`), so that they are in neither the
/// environment (which `docker inspect` and crash reports show) nor the command line (which `ps`
/// shows). A flag still wins; `NAME` and `NAME_FILE` together, or a file that cannot be read, stop
/// the program with a message naming the setting. The file's trailing newline is not part of it.
pub fn parse_with_secret_files<T: clap::Parser>() -> T {
    let mut command = T::command();
    let settings: Vec<(clap::Id, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?;
            Some((arg.get_id().clone(), env.to_owned()))
        })
        .collect();
    for (id, env) in settings {
        let file_env = format!("{env}_FILE");
        let Some(path) = std::env::var_os(&file_env) else {
            continue;
        };
        let path = std::path::PathBuf::from(path);
        if std::env::var_os(&env).is_some() {
            command
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{env} and {file_env} are both set; set one of them"),
                )
                .exit();
        }
        let value = match std::fs::read_to_string(&path) {
            Ok(text) => text.trim_end_matches(['\n', '\r']).to_owned(),
            Err(err) => command
                .error(
                    clap::error::ErrorKind::Io,
                    format!("{file_env}: cannot read {}: {err}", path.display()),
                )
                .exit(),
        };
        // The value is a secret: `--help` must not print it as the default.
        command = command.mut_arg(id, |arg| arg.default_value(value).hide_default_value(true));
    }
    let matches = command.get_matches();
    T::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

/// The end of a binary's `main`: an error is printed as one line with its causes (no backtrace,
/// which is for bugs, not for "the port is taken") and the exit status is 1.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A service URL fit to print: scheme, user, host, port and path, never a password (in the
/// authority or in the query, where libpq also accepts one) nor the query at all. A URL that does
/// not parse is not printed.
pub fn redact_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return if url.contains("://") {
            "<a URL that does not parse>".to_owned()
        } else {
            // A path, such as a SQLite file: nothing secret in it.
            url.to_owned()
        };
    };
    let mut shown = format!("{}://", parsed.scheme());
    if !parsed.username().is_empty() || parsed.password().is_some() {
        shown.push_str(parsed.username());
        if parsed.password().is_some() {
            shown.push_str(":***");
        }
        shown.push('@');
    }
    shown.push_str(parsed.host_str().unwrap_or_default());
    if let Some(port) = parsed.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(parsed.path());
    shown
}

/// A service URL that may carry a password. Its `Debug` and `Display` print [`redact_url`]'s
/// form, so that a configuration holding one can derive `Debug` and be logged; [`expose`] gives
/// the URL to connect with. It parses from any string (clap reads it like a `String`).
///
/// [`expose`]: SecretUrl::expose
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The URL itself, password and all: for the client that connects, never for a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self(url.to_owned()))
    }
}

impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::{SecretUrl, redact_url};

    #[test]
    fn no_password_survives() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(
            redact_url("postgres://app@db/app?password=s3cret"),
            "postgres://app@db/app"
        );
        assert_eq!(
            redact_url("redis://:s3cret@cache:6379"),
            "redis://:***@cache:6379"
        );
        assert!(!redact_url("postgres://app:pa#ss@db/app").contains("pa#ss"));
        assert_eq!(
            redact_url("postgres://a b:c@"),
            "<a URL that does not parse>"
        );
        assert_eq!(redact_url("data/phase3.sqlite3"), "data/phase3.sqlite3");
    }

    #[test]
    fn a_secret_url_shows_itself_only_redacted() {
        let url: SecretUrl = "amqp://guest:s3cret@broker:5672/%2f".parse().unwrap();
        assert_eq!(url.expose(), "amqp://guest:s3cret@broker:5672/%2f");
        for shown in [
            format!("{url}"),
            format!("{url:?}"),
            format!("{:?}", Some(&url)),
        ] {
            assert!(
                !shown.contains("s3cret") && shown.contains("broker:5672"),
                "{shown}"
            );
        }
    }
}
