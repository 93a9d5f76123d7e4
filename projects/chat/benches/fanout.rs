//! `cargo bench -p chat --bench fanout`: 1,000 clients on loopback in rooms of 10, each sending
//! messages as fast as they are acknowledged; how many messages a second reach their readers, the
//! latency from send to receive (p50, p99, max), and the server's resident memory per connection.
//!
//! Two servers are measured, one after the other, with the same clients:
//!
//! - **bare**: a yardstick, the least an actix-ws server can do and still pass the clients' test.
//!   It answers the same frames, but checks no token, stores nothing and gives no ids; it keeps
//!   each room's sessions in a map and sends a message to each of them in turn, as FastAPI's
//!   `ConnectionManager` does. No outbox, no heartbeat, no limits: a slow reader would hold up
//!   its room.
//! - **chat**: the real server, storing messages on SQLite (every message is stored before any
//!   reader gets it) and keeping everything else in process, as `cargo run -p chat` does; its
//!   per-user message limit is lifted, since all the clients are `ada`.
//!
//! Each server runs in a process of its own (this program again, with `CHAT_BENCH_SERVER` set),
//! so that its memory is its own: `VmRSS` from `/proc` before the clients connect and after. The
//! clients share one tokio runtime on the same two cores, so the numbers are the pair's, a floor
//! for the server's.

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

/// The servers measured, in this order.
const SERVERS: [&str; 2] = ["bare", "chat"];

fn main() -> anyhow::Result<()> {
    match std::env::var("CHAT_BENCH_SERVER").as_deref() {
        Ok("chat") => tokio::runtime::Runtime::new()?.block_on(serve()),
        Ok("bare") => actix_web::rt::System::new().block_on(serve_bare()),
        _ => {
            let runtime = tokio::runtime::Runtime::new()?;
            let mut results = Vec::new();
            for kind in SERVERS {
                results.push(runtime.block_on(run(kind))?);
                // The kernel's side of a thousand closed connections, out of the next run's way.
                std::thread::sleep(Duration::from_secs(2));
            }
            if let [bare, chat] = results.as_slice() {
                println!(
                    "chat beside bare: {:.0} % of its messages/s; p99 {:+.1} ms; {:+.1} KiB a connection",
                    chat.per_second / bare.per_second * 100.0,
                    (chat.p99 - bare.p99) * 1e3,
                    chat.kib_per_connection - bare.kib_per_connection
                );
            }
            Ok(())
        }
    }
}

/// The yardstick: rooms of sessions in a map, and each message sent to each member in turn.
async fn serve_bare() -> anyhow::Result<()> {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

    type Rooms = std::sync::Mutex<std::collections::HashMap<String, Vec<actix_ws::Session>>>;

    async fn socket(
        req: HttpRequest,
        body: web::Payload,
        rooms: web::Data<Rooms>,
    ) -> actix_web::Result<HttpResponse> {
        use futures_util::StreamExt;
        let (response, mut session, mut stream) = actix_ws::handle(&req, body)?;
        actix_web::rt::spawn(async move {
            while let Some(Ok(actix_ws::Message::Text(text))) = stream.next().await {
                let Ok(frame) = serde_json::from_str::<serde_json::Value>(&text) else {
                    break;
                };
                let room = frame["room"].as_str().unwrap_or_default().to_owned();
                let reply = match frame["type"].as_str() {
                    Some("auth") => json!({ "v": 1, "type": "welcome", "user": "ada" }),
                    Some("join") => {
                        let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
                        rooms.entry(room.clone()).or_default().push(session.clone());
                        json!({ "v": 1, "type": "joined", "room": room })
                    }
                    Some("send") => {
                        let message = json!({
                            "v": 1, "type": "message", "room": room, "user": "ada",
                            "body": frame["body"], "client_id": frame["client_id"],
                        })
                        .to_string();
                        let members = rooms
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(&room)
                            .cloned()
                            .unwrap_or_default();
                        for mut member in members {
                            let _ = member.text(message.clone()).await;
                        }
                        let client_id = &frame["client_id"];
                        json!({ "v": 1, "type": "ack", "room": room, "client_id": client_id })
                    }
                    _ => continue,
                };
                if session.text(reply.to_string()).await.is_err() {
                    break;
                }
            }
        });
        Ok(response)
    }

    let rooms = web::Data::new(Rooms::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    println!("listening {}", listener.local_addr()?);
    HttpServer::new(move || {
        App::new()
            .app_data(rooms.clone())
            .route("/ws", web::get().to(socket))
    })
    .listen(listener)?
    .run()
    .await?;
    Ok(())
}

/// The chat's side: a chat on a fresh SQLite file, its address on stdout.
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

/// What one server's run measured.
struct Outcome {
    per_second: f64,
    /// Seconds.
    p99: f64,
    kib_per_connection: f64,
}

async fn run(kind: &str) -> anyhow::Result<Outcome> {
    let mut server = Command::new(std::env::current_exe()?)
        .env("CHAT_BENCH_SERVER", kind)
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
    let outcome = measure(kind, &address, server.id()).await;
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

async fn measure(kind: &str, address: &str, pid: u32) -> anyhow::Result<Outcome> {
    let token = if kind == "bare" {
        String::new()
    } else {
        let token: serde_json::Value = reqwest::Client::new()
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
        token["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no token: {token}"))?
            .to_owned()
    };
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
    println!(
        "{kind} fan-out, {CLIENTS} clients in rooms of {ROOM_SIZE}, {MESSAGES} messages each:"
    );
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
    Ok(Outcome {
        per_second: delivered as f64 / elapsed.as_secs_f64(),
        p99: at(0.99).as_secs_f64(),
        kib_per_connection: (after.saturating_sub(before)) as f64 / CLIENTS as f64,
    })
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
