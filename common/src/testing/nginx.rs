//! nginx in front of two instances, for the tests that show a load balancer at work (phase 5's,
//! the projects'). HTTPS requests go through curl, as a client outside the process would send them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` is installed; when it is not and `REQUIRE_SERVICES=1` is set, the test fails
/// here instead of skipping.
pub fn installed(program: &str) -> bool {
    let found = Command::new("sh")
        .args([
            "-c",
            &format!("command -v {program} || test -x /usr/sbin/{program}"),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found || !super::services_required(),
        "{program} is not installed, and REQUIRE_SERVICES=1 says this test must run"
    );
    found
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// A free port on 127.0.0.1 (free when asked; nginx binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// nginx running from a folder of its own; stopped and removed when dropped.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    /// The plain HTTP port, which only redirects to HTTPS.
    pub http: u16,
    pub https: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx's master then stops its workers; killed, it would leave
        // them running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nginx {
    /// `template` (phase 5's `nginx/nginx.conf`) filled in, in front of `a` and `b`
    /// (`http://127.0.0.1:PORT`), serving `/static/` from `static_dir`, with a certificate for
    /// `localhost` made now.
    pub fn start(template: &str, a: &str, b: &str, static_dir: &str) -> Self {
        let dir = std::env::temp_dir().join(super::unique_name("nginx"));
        std::fs::create_dir_all(&dir).expect("nginx's test setup");
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args(["-days", "1", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .expect("nginx's test setup");
        assert!(made.success(), "openssl made no certificate");
        let (http, https) = (free_port(), free_port());
        let strip = |url: &str| url.trim_start_matches("http://").to_owned();
        let conf = template
            .replace("{{DIR}}", dir.to_str().expect("nginx's test setup"))
            .replace("{{UPSTREAM_A}}", &strip(a))
            .replace("{{UPSTREAM_B}}", &strip(b))
            .replace("{{HTTP_PORT}}", &http.to_string())
            .replace("{{HTTPS_PORT}}", &https.to_string())
            .replace(
                "{{CERT}}",
                dir.join("cert.pem").to_str().expect("nginx's test setup"),
            )
            .replace(
                "{{KEY}}",
                dir.join("key.pem").to_str().expect("nginx's test setup"),
            )
            .replace("{{STATIC}}", static_dir);
        std::fs::write(dir.join("nginx.conf"), conf).expect("nginx's test setup");
        let checked = Command::new(nginx_binary())
            .args(["-q", "-t", "-p"])
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .output()
            .expect("nginx's test setup");
        assert!(
            checked.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx's test setup");
        let nginx = Self {
            child,
            dir,
            http,
            https,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// `curl` over HTTPS to `path`, trusting the test's certificate: status, headers (lower
    /// case), body.
    pub fn https(&self, path: &str, extra: &[&str]) -> Response {
        let url = format!("https://localhost:{}{path}", self.https);
        curl(
            &url,
            &[
                "--cacert",
                self.dir
                    .join("cert.pem")
                    .to_str()
                    .expect("nginx's test setup"),
            ],
            extra,
        )
    }
}

/// What curl received.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// `curl -s -i URL` with `options` and `extra`: the status, headers and body it got.
pub fn curl(url: &str, options: &[&str], extra: &[&str]) -> Response {
    let output = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10", "--noproxy", "*"])
        .args(options)
        .args(extra)
        .arg(url)
        .output()
        .expect("nginx's test setup");
    let text = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "curl {url}: no response ({})",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}
