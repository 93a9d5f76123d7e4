//! `cargo bench -p chat --bench fanout`: 1,000 clients on loopback in rooms of 10, each sending
//! messages as fast as they are acknowledged; how many messages a second reach their readers, the
//! latency from send to receive (p50, p99, max), and the server's resident memory per connection.
//!
//! The server runs in a process of its own (this program again, with `CHAT_BENCH_SERVER=1`), so
//! that its memory is its own: `VmRSS` from `/proc` before the clients connect and after. It
//! stores messages on SQLite and keeps everything else in process, as `cargo run -p chat` does;
//! its per-user message limit is lifted, since all the clients are `ada`. The clients share one
//! tokio runtime on the same two cores, so the numbers are the pair's, a floor for the server's.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::testing::websocket::{Received, Socket};
use serde_json::json;
use tokio::sync::Mutex;

const CLIENTS: usize = 1_000;
const ROOM_SIZE: usize = 10;
/// Messages each client sends, one after another (each once the previous is acknowledged).
const MESSAGES: usize = 10;
/// The run stops here even if messages are missing.
const DEADLINE: Duration = Duration::from_secs(120);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    if std::env::var("CHAT_BENCH_SERVER").is_ok() {
        return runtime.block_on(serve());
    }
    runtime.block_on(run())
}

/// The server's side: a chat on a fresh SQLite file, its address on stdout.
async fn serve() -> anyhow::Result<()> {
    let folder = std::env::temp_dir().join(format!("chat-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let database = folder.join("chat.sqlite3");
    let mut config = chat::Config::local(database.to_string_lossy());
    config.message_rate = 10_000_000;
    config.rate_limit = 1_000_000;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let app = chat::build(config, listener).await?;
    println!("listening {address}");
    let server = app.into_server();
    let outcome = server.await;
    let _ = std::fs::remove_dir_all(&folder);
    Ok(outcome?)
}

fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for process {pid}"))
}

async fn run() -> anyhow::Result<()> {
    let mut server = Command::new(std::env::current_exe()?)
        .env("CHAT_BENCH_SERVER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = server
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("listening ")
        .ok_or_else(|| anyhow::anyhow!("the server said {line:?}"))?
        .to_owned();
    let outcome = measure(&address, server.id()).await;
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

async fn measure(address: &str, pid: u32) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("http://{address}/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", "correct-horse-ada"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no token: {token}"))?
        .to_owned();
    let url = format!("ws://{address}/ws");

    let before = resident_kib(pid)?;
    let mut sockets = Vec::with_capacity(CLIENTS);
    for n in 0..CLIENTS {
        let mut socket = Socket::open(&url, None)
            .await?
            .map_err(|r| anyhow::anyhow!("the handshake was refused: {} {}", r.status, r.body))?;
        socket
            .send(&json!({ "v": 1, "type": "auth", "token": token }))
            .await?;
        socket.expect("welcome", Duration::from_secs(10)).await?;
        let room = format!("bench-{}", n / ROOM_SIZE);
        socket
            .send(&json!({ "v": 1, "type": "join", "room": room }))
            .await?;
        socket.expect("joined", Duration::from_secs(10)).await?;
        sockets.push((room, socket));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = resident_kib(pid)?;

    let epoch = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(
        CLIENTS * MESSAGES * ROOM_SIZE,
    )));
    let mut tasks = Vec::new();
    for (n, (room, socket)) in sockets.into_iter().enumerate() {
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(client(n, room, socket, epoch, latencies)));
    }
    let mut delivered = 0;
    for task in tasks {
        delivered += task.await??;
    }
    let elapsed = epoch.elapsed();
    let mut latencies = latencies.lock().await.clone();
    latencies.sort_unstable();
    let expected = CLIENTS * MESSAGES * ROOM_SIZE;
    let at = |q: f64| -> Duration {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies.get(index).copied().unwrap_or_default()
    };
    println!("chat fan-out, {CLIENTS} clients in rooms of {ROOM_SIZE}, {MESSAGES} messages each:");
    println!(
        "  delivered         {delivered} of {expected} messages in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  fanned out        {:.0} messages/s to readers ({:.0} sent/s)",
        delivered as f64 / elapsed.as_secs_f64(),
        (CLIENTS * MESSAGES) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  send to receive   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    );
    println!(
        "  server memory     {} MiB before, {} MiB with {CLIENTS} connections: {:.1} KiB a connection",
        before / 1024,
        after / 1024,
        (after.saturating_sub(before)) as f64 / CLIENTS as f64
    );
    anyhow::ensure!(delivered == expected, "messages were lost");
    Ok(())
}

/// One client: sends its messages one after another, and reads its room's until it has heard
/// every message of the room (its own included); how many it heard.
async fn client(
    n: usize,
    room: String,
    mut socket: Socket,
    epoch: Instant,
    latencies: Arc<Mutex<Vec<Duration>>>,
) -> anyhow::Result<usize> {
    let mut heard = 0;
    let mut sent = 0;
    let mut acknowledged = true;
    let mut own = Vec::new();
    let deadline = epoch + DEADLINE;
    while heard < MESSAGES * ROOM_SIZE {
        if acknowledged && sent < MESSAGES {
            let at = epoch.elapsed().as_micros();
            socket
                .send(&json!({
                    "v": 1, "type": "send", "room": room,
                    "client_id": format!("{n}-{sent}"), "body": at.to_string(),
                }))
                .await?;
            sent += 1;
            acknowledged = false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let Received::Frame(frame) = socket.next(left).await? else {
            anyhow::bail!("client {n} was disconnected");
        };
        match frame["type"].as_str() {
            Some("message") => {
                heard += 1;
                let sent_at: u128 = frame["body"].as_str().unwrap_or("0").parse()?;
                let now = epoch.elapsed().as_micros();
                own.push(Duration::from_micros(
                    u64::try_from(now.saturating_sub(sent_at)).unwrap_or(u64::MAX),
                ));
            }
            Some("ack") => acknowledged = true,
            Some("error") => anyhow::bail!("client {n}: {frame}"),
            _ => {}
        }
    }
    latencies.lock().await.extend(own);
    socket.close().await;
    Ok(heard)
}
