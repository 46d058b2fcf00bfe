//! The web client in a real browser: runs the Playwright tests in tests/browser (Node's test
//! runner driving Debian's headless Chromium) against this build's chat-server. They need
//! `node`, `npm` and `/usr/bin/chromium`; CI installs them (`.ci/run`), elsewhere the test is
//! skipped when one is missing. Screenshots go to target/screenshots/.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether node, npm and Chromium are here; CI must have them, elsewhere the test is skipped.
fn browser_available() -> bool {
    common::tools_present(
        &["node", "npm", CHROMIUM],
        "apt-get install chromium nodejs npm",
    )
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

#[test]
fn web_client_in_chromium() {
    if !browser_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
            "npm ci in tests/browser",
        );
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read tests/browser")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());
    let out = run(
        Command::new("node")
            .arg("--test")
            .arg("--test-concurrency=1")
            .args(&files)
            .current_dir(&dir)
            .env("LINECHAT_SERVER_BIN", env!("CARGO_BIN_EXE_chat-server")),
        "node --test tests/browser",
    );
    assert!(out.contains("# fail 0"), "a browser test failed:\n{out}");
}
