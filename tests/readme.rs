//! README.md's examples, run against the real server in README order and compared with the
//! README's text, so that the two cannot drift apart.
//!
//! The test runs the fenced blocks that follow an HTML comment (invisible when rendered)
//! `<!-- readme-test: NAME -->`, top to bottom, against one server started with the
//! defaults on an ephemeral port:
//!
//! * NAME a person (`bob`): a block starting `$ telnet 127.0.0.1 6667` opens their
//!   connection; a block without a `$` line continues it. Lines starting with `:` or
//!   `ERROR` are the server's; every other line is typed, when it is reached (with CRLF,
//!   as telnet sends it). At the end of a block nothing more may have arrived.
//! * A block starting `$ printf 'TEXT' | nc 127.0.0.1 6667` sends TEXT as it is and reads
//!   until the server closes the connection; every line read must be accounted for.
//! * NAME `file logs/FILE`: the log directory's FILE holds the block's lines.
//! * NAME `shell`: each `$ target/release/chat-search ARGS` line is run in the directory
//!   holding the log directory; its output (stdout, then stderr) is the lines after it.
//! * NAME `config`: the block is a `--config` file. As the README says, the server is
//!   stopped (SIGINT, as Ctrl-C) and started again with it, on the same log directory;
//!   the blocks after it talk to the new server.
//!
//! A `...` line stands for any number of lines. Timestamps (`2026-11-26 13:16`,
//! `2026-11-23T10:15:30.123Z`) and dates in the server's lines match any time. The README's
//! `127.0.0.1 6667` must be the server's default address; `127.0.0.1` in the server's lines
//! is the loopback peer, as in the README. No sleeps: a telnet block ends with a PING and
//! everything before its PONG.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use common::{Client, TestServer};

const README: &str = include_str!("../README.md");
const MARKER: &str = "<!-- readme-test:";
const SKIP: &str = "...";

/// One marked block: its marker's name, its lines, and the README line of its first line.
struct Block {
    name: String,
    lines: Vec<String>,
    line_no: usize,
}

impl Block {
    fn at(&self, i: usize) -> String {
        format!("README.md:{} ({})", self.line_no + i, self.name)
    }
}

/// Every fenced block that follows a `<!-- readme-test: NAME -->` line, in order.
fn marked_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(rest) = lines[i].trim().strip_prefix(MARKER) else {
            i += 1;
            continue;
        };
        let name = rest
            .strip_suffix("-->")
            .unwrap_or_else(|| panic!("README.md:{}: marker without -->", i + 1))
            .trim()
            .to_string();
        let fence = i + 1;
        assert!(
            lines.get(fence).is_some_and(|l| l.starts_with("```")),
            "README.md:{}: a readme-test marker must be followed by a ``` block",
            i + 1
        );
        let end = (fence + 1..lines.len())
            .find(|&j| lines[j].starts_with("```"))
            .unwrap_or_else(|| panic!("README.md:{}: unclosed block", fence + 1));
        blocks.push(Block {
            name,
            lines: lines[fence + 1..end]
                .iter()
                .map(|l| l.to_string())
                .collect(),
            line_no: fence + 2,
        });
        i = end + 1;
    }
    blocks
}

/// `line` with the digits of every date and time (`2026-11-26`, `2026-11-26 13:16`,
/// `2026-11-23T10:15:30.123Z`) replaced by `#`, so that any time matches any other.
fn mask_times(line: &str) -> String {
    let mut bytes = line.as_bytes().to_vec();
    let shape = |b: &[u8], at: usize, pattern: &str| {
        pattern.bytes().enumerate().all(|(k, p)| {
            b.get(at + k).is_some_and(|&c| match p {
                b'd' => c.is_ascii_digit(),
                b'?' => c == b' ' || c == b'T',
                _ => c == p,
            })
        })
    };
    let mut i = 0;
    while i < bytes.len() {
        if !shape(&bytes, i, "dddd-dd-dd") {
            i += 1;
            continue;
        }
        let mut end = i + 10;
        for part in ["?dd:dd", ":dd", ".ddd"] {
            if shape(&bytes, end, part) {
                end += part.len();
            } else {
                break;
            }
        }
        for c in &mut bytes[i..end] {
            if c.is_ascii_digit() {
                *c = b'#';
            }
        }
        i = end;
    }
    String::from_utf8(bytes).expect("masking keeps UTF-8")
}

fn is_server_line(line: &str) -> bool {
    line.starts_with(':') || line.starts_with("ERROR")
}

/// Reads lines from `next` until one matches `want`; unless `skip`, the very next one must.
fn expect_line(
    next: &mut dyn FnMut() -> Option<String>,
    want: &str,
    skip: bool,
) -> Result<(), String> {
    let want_masked = mask_times(want);
    loop {
        let Some(got) = next() else {
            return Err(format!("expected {want:?}, but the output ended"));
        };
        if mask_times(&got) == want_masked {
            return Ok(());
        }
        if !skip {
            return Err(format!("expected\n  {want}\ngot\n  {got}"));
        }
    }
}

/// Compares `got` with the expected `lines` (with `...` skips), all of `got` accounted for.
fn compare(block: &Block, first: usize, got: &[String]) {
    let mut rest = got.iter().cloned();
    let mut skip = false;
    for (i, want) in block.lines.iter().enumerate().skip(first) {
        if want == SKIP {
            skip = true;
            continue;
        }
        if let Err(e) = expect_line(&mut || rest.next(), want, skip) {
            panic!("{}: {e}\noutput:\n{}", block.at(i), got.join("\n"));
        }
        skip = false;
    }
    let extra: Vec<String> = rest.collect();
    assert!(
        skip || extra.is_empty(),
        "{}: more output than the README shows:\n{}",
        block.at(block.lines.len()),
        extra.join("\n")
    );
}

/// Checks that a README command connects to the default address, `127.0.0.1 6667`.
fn check_address(block: &Block, host_port: &str) {
    assert_eq!(
        host_port.trim(),
        "127.0.0.1 6667",
        "{}: the README's examples connect to the default address",
        block.at(0)
    );
}

/// Plays a telnet block on `client`: typed lines are sent when reached, server lines read.
fn play_telnet(block: &Block, first: usize, client: &mut Client) {
    let mut skip = false;
    let mut closed = false;
    for (i, line) in block.lines.iter().enumerate().skip(first) {
        if line == SKIP {
            skip = true;
        } else if is_server_line(line) {
            if let Err(e) = expect_line(&mut || client.next_line(), line, skip) {
                panic!("{}: {e}\nseen:\n{}", block.at(i), client.seen.join("\n"));
            }
            closed = line.starts_with("ERROR");
            skip = false;
        } else {
            if skip {
                // What the person waited for before typing: everything sent so far.
                client.sync();
                skip = false;
            }
            client.send(line);
        }
    }
    let extra = if closed {
        client.read_to_close()
    } else {
        client.sync()
    };
    assert!(
        skip || extra.is_empty(),
        "{}: more output than the README shows:\n{}",
        block.at(block.lines.len()),
        extra.join("\n")
    );
}

/// `printf 'TEXT'`'s output: TEXT with `\n` and `\\` unescaped.
fn printf_text(format: &str) -> String {
    format.replace("\\n", "\n").replace("\\\\", "\\")
}

/// Plays a `$ printf 'TEXT' | nc HOST PORT` block: TEXT sent at once, read to the close.
fn play_netcat(block: &Block, server: &TestServer) {
    let command = &block.lines[0];
    let (format, host_port) = command
        .strip_prefix("$ printf '")
        .and_then(|rest| rest.split_once("' | nc "))
        .unwrap_or_else(|| panic!("{}: not `$ printf '...' | nc HOST PORT`", block.at(0)));
    check_address(block, host_port);
    let mut client = server.connect();
    client.send_raw(printf_text(format).as_bytes());
    let got = client.read_to_close();
    compare(block, 1, &got);
}

/// Splits a shell command line into words: single and double quotes, `#` comments.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    w.push(q);
                }
            }
            '#' if word.is_none() => break,
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Runs a shell block's `$ target/release/chat-search ...` lines next to the log directory.
fn play_shell(block: &Block, log_dir: &Path) {
    let cwd = log_dir.parent().unwrap();
    assert_eq!(log_dir.file_name().unwrap(), "logs", "the default log dir");
    let starts: Vec<usize> = (0..block.lines.len())
        .filter(|&i| block.lines[i].starts_with("$ "))
        .collect();
    assert_eq!(starts.first(), Some(&0), "{}: a command first", block.at(0));
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(block.lines.len());
        let words = shell_words(&block.lines[start][2..]);
        assert_eq!(
            words[0],
            "target/release/chat-search",
            "{}: only chat-search runs here",
            block.at(start)
        );
        let out = Command::new(env!("CARGO_BIN_EXE_chat-search"))
            .args(&words[1..])
            .current_dir(cwd)
            .env_remove("LINECHAT_LOG_DIR")
            .output()
            .expect("run chat-search");
        let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
        let got: Vec<String> = text.lines().map(str::to_string).collect();
        let one = Block {
            name: block.name.clone(),
            lines: block.lines[start..end].to_vec(),
            line_no: block.line_no + start,
        };
        compare(&one, 1, &got);
    }
}

/// Compares a file of the log directory with the block, line by line.
fn check_file(block: &Block, path: &str, log_dir: &Path) {
    let file = path
        .strip_prefix("logs/")
        .unwrap_or_else(|| panic!("{}: a file under logs/", block.at(0)));
    let text = std::fs::read_to_string(log_dir.join(file))
        .unwrap_or_else(|e| panic!("{}: cannot read {path}: {e}", block.at(0)));
    let got: Vec<String> = text.lines().map(str::to_string).collect();
    compare(block, 0, &got);
}

#[test]
fn readme_examples_run_as_written() {
    let blocks = marked_blocks(README);
    assert!(
        blocks.len() >= 5,
        "the README's example sessions are marked with {MARKER} NAME -->"
    );
    let tmp = tempfile::tempdir().unwrap();
    let log_dir = tmp.path().join("logs");
    let mut server = TestServer::start_in(&log_dir, &[]);
    let mut people: HashMap<String, Client> = HashMap::new();
    for block in &blocks {
        if block.name == "config" {
            let config = tmp.path().join("linechat.toml");
            std::fs::write(&config, block.lines.join("\n") + "\n").unwrap();
            server.signal(libc::SIGINT);
            assert_eq!(
                server.wait(),
                Some(0),
                "{}: Ctrl-C stops the server",
                block.at(0)
            );
            people.clear();
            server = TestServer::start_in(&log_dir, &["--config", config.to_str().unwrap()]);
            continue;
        }
        let first = block.lines.first().map(String::as_str).unwrap_or("");
        if let Some(path) = block.name.strip_prefix("file ") {
            check_file(block, path.trim(), &server.log_dir);
        } else if block.name == "shell" {
            play_shell(block, &server.log_dir);
        } else if first.starts_with("$ printf ") {
            play_netcat(block, &server);
        } else if let Some(host_port) = first.strip_prefix("$ telnet ") {
            check_address(block, host_port);
            let mut client = server.connect();
            play_telnet(block, 1, &mut client);
            people.insert(block.name.clone(), client);
        } else {
            assert!(!first.starts_with('$'), "{}: unknown command", block.at(0));
            let client = people
                .get_mut(&block.name)
                .unwrap_or_else(|| panic!("{}: {} has no session yet", block.at(0), block.name));
            play_telnet(block, 0, client);
        }
    }
}

#[test]
fn readme_addresses_are_the_defaults() {
    let help = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .arg("--help")
        .output()
        .expect("run chat-server --help");
    let help = String::from_utf8(help.stdout).unwrap();
    for default in ["[default: 127.0.0.1:6667]", "[default: ./logs]"] {
        assert!(help.contains(default), "chat-server --help lacks {default}");
    }
}

#[test]
fn times_match_any_time() {
    assert_eq!(
        mask_times(":linechat NOTICE #g :[2026-11-26 13:16] <alice> at 12:00"),
        ":linechat NOTICE #g :[####-##-## ##:##] <alice> at 12:00"
    );
    assert_eq!(
        mask_times("2026-11-23T10:15:30.123Z,alice,\"hello, world\""),
        "####-##-##T##:##:##.###Z,alice,\"hello, world\""
    );
    assert_eq!(mask_times("per day 2026-11-26  2"), "per day ####-##-##  2");
    assert_eq!(
        shell_words("chat-search query '\"hello, world\"' --user alice   # or --format json"),
        [
            "chat-search",
            "query",
            "\"hello, world\"",
            "--user",
            "alice"
        ]
    );
}
