//! A temporary log directory with the `fixtures/archive` rooms, and `chat-search` run on it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The #general archive of the fixtures.
pub const GENERAL: &str = "history_general.csv";
/// The #開発 archive of the fixtures.
pub const KAIHATSU: &str = "history_%E9%96%8B%E7%99%BA.csv";

/// What a `chat-search` run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A temporary log directory holding a copy of `fixtures/archive`.
pub struct Logs {
    _tmp: TempDir,
    pub dir: PathBuf,
}

impl Logs {
    pub fn new() -> Logs {
        let tmp = TempDir::new().unwrap();
        let dir = tmp.path().join("logs");
        fs::create_dir(&dir).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/archive");
        for entry in fs::read_dir(fixtures).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        Logs { _tmp: tmp, dir }
    }

    /// An empty log directory.
    pub fn empty() -> Logs {
        let tmp = TempDir::new().unwrap();
        let dir = tmp.path().join("logs");
        fs::create_dir(&dir).unwrap();
        Logs { _tmp: tmp, dir }
    }

    /// Writes `text` to `name` in the log directory (replacing it).
    pub fn write(&self, name: &str, text: &str) {
        fs::write(self.path(name), text).unwrap();
    }

    /// How many messages a search for everything finds.
    pub fn searchable(&self) -> usize {
        let r = self.run(&["query", "", "--format", "json", "--limit", "100000"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.lines().count()
    }

    /// The number in `indexed N new messages` of an `index` run.
    pub fn index_count(&self) -> usize {
        let r = self.index();
        r.stdout
            .strip_prefix("indexed ")
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.replace(',', "").parse().ok())
            .unwrap_or_else(|| panic!("no count in {:?}", r.stdout))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_chat-search"))
            .args(args)
            .arg("--log-dir")
            .arg(&self.dir)
            .env_remove("LINECHAT_LOG_DIR")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    pub fn index(&self) -> Run {
        let r = self.run(&["index"]);
        assert_eq!(r.code, 0, "index failed: {}", r.stderr);
        r
    }

    /// Messages matching `query` (plus extra args), in output order.
    pub fn messages(&self, query: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec!["query", query, "--format", "json", "--limit", "1000"];
        args.extend_from_slice(extra);
        let r = self.run(&args);
        assert_eq!(r.code, 0, "query {query:?} failed: {}", r.stderr);
        r.stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["message"].as_str().unwrap().to_string()
            })
            .collect()
    }

    pub fn append(&self, name: &str, text: &str) {
        let mut f = OpenOptions::new()
            .append(true)
            .open(self.path(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }
}
