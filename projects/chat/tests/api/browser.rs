//! The browser client in a real browser: Debian's Chromium, driven by playwright-core from npm
//! (`scripts/node/chat-browser.mjs`), two pages on two instances talking to each other; then one
//! page loses a message frame, and fills the gap in the ids from the history.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::pair;

/// What the test needs, and why it is missing, if it is.
fn missing(workspace: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium, or set CHROMIUM)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no `node` on the PATH".to_owned());
    }
    let playwright = workspace.join("scripts/node/node_modules/playwright-core");
    if !playwright.exists() {
        return Some("no playwright-core (npm ci --prefix scripts/node)".to_owned());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_on_two_instances_talk_to_each_other() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if let Some(why) = missing(&workspace) {
        assert!(
            !common::testing::services_required(),
            "the browser test cannot run under REQUIRE_SERVICES=1: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let Some((a, b)) = pair(|_| {}).await else {
        return;
    };
    let screenshot = workspace.join("target/chat-browser.png");
    let driver = workspace.join("scripts/node/chat-browser.mjs");
    let (base_a, base_b) = (a.base.clone(), b.base.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(driver)
            .arg(base_a)
            .arg(base_b)
            .arg(&screenshot)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["ok"], true, "{stdout}");
    println!("{stdout}");
}
