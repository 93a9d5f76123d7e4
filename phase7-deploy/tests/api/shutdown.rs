//! Graceful shutdown under load: SIGTERM while clients are busy. Requests in flight finish, the
//! clients (which poll readiness, as a load balancer does) stop sending during the drain, new
//! connections are then refused, no client sees an error, and the process exits 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::Binary;

/// How many clients loop on `GET /tasks`, and for how long at most.
const CLIENTS: usize = 8;
const LOAD_FOR: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_what_is_in_flight_and_no_client_sees_an_error() {
    let binary = Binary::start(&[
        ("FAULT_ROUTES", "true"),
        ("SHUTDOWN_DRAIN_SECONDS", "1"),
        ("LOG_FORMAT", "json"),
    ]);
    let address = binary
        .process
        .base_url
        .trim_start_matches("http://")
        .to_owned();
    let client = reqwest::Client::new();
    // What a load balancer knows: whether the instance is still ready.
    let removed = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

    let mut load = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url) = (client.clone(), binary.url("/tasks"));
        let (removed, served, errors) = (removed.clone(), served.clone(), errors.clone());
        load.push(tokio::spawn(async move {
            let started = Instant::now();
            while !removed.load(Ordering::SeqCst) && started.elapsed() < LOAD_FOR {
                match client.get(&url).send().await {
                    Ok(response) if response.status() == 200 => {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(response) => errors
                        .lock()
                        .expect("the lock")
                        .push(format!("status {}", response.status())),
                    Err(err) => errors.lock().expect("the lock").push(err.to_string()),
                }
            }
        }));
    }
    let balancer = {
        let (client, url, removed) = (client.clone(), binary.url("/health/ready"), removed.clone());
        tokio::spawn(async move {
            while !removed.load(Ordering::SeqCst) {
                let ready = client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|response| response.status() == 200);
                if !ready {
                    removed.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Requests that take 2.5 s, in flight when SIGTERM arrives and after the listener closes.
    let mut slow = Vec::new();
    for _ in 0..4 {
        let (client, url) = (client.clone(), binary.url("/faults/slow?ms=2500"));
        slow.push(tokio::spawn(async move { client.get(&url).send().await }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = served.load(Ordering::Relaxed);
    assert!(before > 0, "the load is running");

    binary.process.signal("TERM");
    let signalled = Instant::now();
    // After the drain (1 s) the listener closes: a new connection is refused.
    let refused_after = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if tokio::net::TcpStream::connect(&address).await.is_err() {
            break signalled.elapsed();
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "the listener was still open 5 s after SIGTERM"
        );
    };
    assert!(
        refused_after >= Duration::from_millis(900),
        "the listener closed after {refused_after:?}, before the 1 s drain ended"
    );
    for request in slow {
        let response = request
            .await
            .expect("the task")
            .expect("a slow request was cut off");
        assert_eq!(response.status(), 200, "a request in flight finished");
    }
    for client in load {
        client.await.expect("a client");
    }
    balancer.await.expect("the balancer");
    let errors = errors.lock().expect("the lock").clone();
    assert!(errors.is_empty(), "clients saw errors: {errors:?}");
    assert!(removed.load(Ordering::SeqCst), "readiness went down");
    assert!(
        served.load(Ordering::Relaxed) > before,
        "the load went on during the drain"
    );

    let log = binary.stop_and_read_log_after_exit();
    assert!(
        log.iter().any(|line| line["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("shutting down: draining"))),
        "the drain is logged"
    );
}
