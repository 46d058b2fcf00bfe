//! One path for a command's replies: IRCv3 `labeled-response` and `batch`.
//!
//! While a labeled command runs, every line queued to the commanding client's own outbox
//! *from its own task* — numerics, its JOIN echo, NAMES, an echo-message — is captured
//! instead of sent; when the command is done the lines go out labeled (one line), in a
//! `labeled-response` batch (several), or as an `ACK` (none). Lines other clients cause
//! meanwhile are not captured: they run on other tasks.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::message::line;
use crate::tags::{escape, has_tag, with_tag};

tokio::task_local! {
    static CAPTURE: Capture;
}

#[derive(Clone)]
struct Capture {
    owner: usize,
    lines: Arc<Mutex<Vec<Bytes>>>,
}

/// Takes `line` into the running capture if it is for the capturing client (`owner` is
/// its outbox's identity); returns whether it was taken.
pub(crate) fn capture(owner: usize, line: &Bytes) -> bool {
    CAPTURE
        .try_with(|c| {
            if c.owner != owner {
                return false;
            }
            c.lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(line.clone());
            true
        })
        .unwrap_or(false)
}

/// Runs `fut` capturing the lines queued to the outbox identified by `owner`.
pub async fn captured<F: Future>(owner: usize, fut: F) -> (F::Output, Vec<Bytes>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let capture = Capture {
        owner,
        lines: lines.clone(),
    };
    let out = CAPTURE.scope(capture, fut).await;
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    (out, lines)
}

/// [`captured`] for a synchronous step run on another task (a cluster node applying a
/// change its client made under a label): the lines are handed back to the client's
/// session, which queues them inside its own capture.
pub(crate) fn captured_sync<R>(owner: usize, f: impl FnOnce() -> R) -> (R, Vec<Bytes>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let capture = Capture {
        owner,
        lines: lines.clone(),
    };
    let out = CAPTURE.sync_scope(capture, f);
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    (out, lines)
}

/// Whether the running task is capturing the replies of the client whose outbox is
/// `owner` (it is handling a labeled line from that client).
pub(crate) fn capturing(owner: usize) -> bool {
    CAPTURE.try_with(|c| c.owner == owner).unwrap_or(false)
}

/// A batch reference tag unique within the server's life.
pub fn batch_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("b{n:x}")
}

/// Wraps `lines` in a batch: `BATCH +id kind params...`, each line tagged `batch=id`
/// (lines of a nested batch keep theirs), `BATCH -id`.
pub fn batch(server: &str, kind: &str, params: &[&str], lines: Vec<Bytes>) -> Vec<Bytes> {
    let id = batch_id();
    let start = format!("+{id}");
    let mut middle = vec![start.as_str(), kind];
    middle.extend_from_slice(params);
    let tag = format!("batch={id}");
    let mut out = Vec::with_capacity(lines.len() + 2);
    out.push(line(server, "BATCH", &middle, None));
    for l in lines {
        out.push(if has_tag(&l, "batch") {
            l
        } else {
            with_tag(&l, &tag)
        });
    }
    out.push(line(server, "BATCH", &[&format!("-{id}")], None));
    out
}

/// The labeled form of a command's captured replies (labeled-response): `ACK` when there
/// were none, the one line labeled, the start of the one batch that makes up the whole
/// reply labeled (a CHATHISTORY or SEARCH answer, as ergo does), or else a labeled
/// `labeled-response` batch around them.
pub fn labeled(server: &str, label: &str, mut lines: Vec<Bytes>) -> Vec<Bytes> {
    let tag = format!("label={}", escape(label));
    match lines.len() {
        0 => vec![with_tag(&line(server, "ACK", &[], None), &tag)],
        1 => vec![with_tag(&lines[0], &tag)],
        _ if is_one_batch(&lines) => {
            lines[0] = with_tag(&lines[0], &tag);
            lines
        }
        _ => {
            let mut out = batch(server, "labeled-response", &[], lines);
            out[0] = with_tag(&out[0], &tag);
            out
        }
    }
}

/// Whether `lines` are exactly one batch: its `BATCH +ref` first, its `BATCH -ref` last.
fn is_one_batch(lines: &[Bytes]) -> bool {
    match (lines.first(), lines.last()) {
        (Some(first), Some(last)) => {
            let opened = batch_ref(first, b'+');
            opened.is_some() && opened == batch_ref(last, b'-')
        }
        _ => false,
    }
}

/// The reference of a rendered `BATCH +ref …` (or, with `sign` `-`, `BATCH -ref`) line.
fn batch_ref(line: &[u8], sign: u8) -> Option<&[u8]> {
    let mut words = line
        .strip_suffix(b"\r\n")
        .unwrap_or(line)
        .split(|b| *b == b' ')
        .skip_while(|w| w.starts_with(b"@") || w.starts_with(b":"));
    if words.next()? != b"BATCH" {
        return None;
    }
    words.next()?.strip_prefix(&[sign])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captures_only_the_owner_and_labels() {
        let a = Bytes::from_static(b":s 001 a :hi\r\n");
        let ((), lines) = captured(7, async {
            assert!(capture(7, &a));
            assert!(!capture(8, &a));
        })
        .await;
        assert_eq!(lines, vec![a.clone()]);
        assert!(!capture(7, &a), "no capture outside the scope");
        assert_eq!(
            labeled("s", "x", vec![]),
            vec![Bytes::from_static(b"@label=x :s ACK\r\n")]
        );
        let out = labeled("s", "x", vec![a.clone(), a.clone()]);
        assert_eq!(out.len(), 4);
        assert!(out[0].starts_with(b"@label=x :s BATCH +"));
        assert!(out[1].starts_with(b"@batch=b"));
        let one = batch("s", "chathistory", &["#r"], vec![a.clone()]);
        let out = labeled("s", "x", one.clone());
        assert_eq!(out.len(), 3);
        assert!(out[0].starts_with(b"@label=x :s BATCH +"));
        assert!(out[0].ends_with(b" chathistory #r\r\n"));
        assert_eq!(out[1..], one[1..]);
        let two = [one.clone(), batch("s", "chathistory", &["#q"], vec![a])].concat();
        let out = labeled("s", "x", two);
        assert!(out[0].ends_with(b" labeled-response\r\n"));
    }
}
