//! `healthcheck`: what a container's `HEALTHCHECK` runs. Exits 0 when the server on this machine
//! answers `GET $HEALTHCHECK_PATH` (default `/`) on `$PORT` with a 200, 1 otherwise.

use std::process::ExitCode;

fn main() -> ExitCode {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok());
    let Some(port) = port else {
        eprintln!("unhealthy: PORT is not set to a port number");
        return ExitCode::FAILURE;
    };
    let path = std::env::var("HEALTHCHECK_PATH").unwrap_or_else(|_| "/".to_owned());
    match common::healthcheck::check(port, &path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("unhealthy: {why}");
            ExitCode::FAILURE
        }
    }
}
