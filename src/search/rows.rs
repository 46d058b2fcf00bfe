//! Reading CSV records from an archive, one at a time, recovering from broken quotes.
//!
//! The rules are RFC 4180's as the `csv` crate applies them (a `"` opens a quoted field
//! only at the start of a field, `""` inside one is a quote, CRLF ends a record like LF,
//! blank lines are skipped), with one addition for archives that other tools wrote: a
//! quoted field may span lines, but when it is still open at the end of a line and the
//! next line starts like a row of its own (a timestamp and a comma), the quote is taken
//! as unbalanced. That record is reported as malformed (`path:line`) and reading resumes
//! at the next line, instead of the open quote swallowing every following row.

use std::io::{self, BufRead};

use super::timestamps::parse_row_timestamp;

/// One step of reading.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A record; its fields are in [`RowReader::fields`].
    Row {
        /// 1-based line the record starts on.
        line: u64,
        /// Byte offset of its start.
        offset: u64,
    },
    /// A record with a quote never closed before the next row: skipped.
    Unbalanced {
        /// 1-based line the record starts on.
        line: u64,
        /// The line where the next row starts.
        next_line: u64,
    },
    /// The input ended inside a quoted field: the record may still be being written.
    /// Reading should stop before `offset` (at `line` lines) and try again later.
    Unfinished {
        /// Byte offset of the record's start.
        offset: u64,
        /// Lines before it.
        line: u64,
    },
    /// No more input.
    End,
}

/// Where the state machine is inside a record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    StartField,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Reads records from `inner`, which starts at byte `offset` after `line` lines.
pub struct RowReader<R> {
    inner: R,
    offset: u64,
    line: u64,
    fields: Vec<Vec<u8>>,
    used: usize,
    current: Vec<u8>,
    /// A spare field buffer, reused from row to row.
    scratch: Vec<u8>,
    /// A line read ahead (it started the next row after an unbalanced quote).
    held: Option<Vec<u8>>,
}

impl<R: BufRead> RowReader<R> {
    /// A reader over `inner`, positioned at `offset` after `line` lines.
    pub fn new(inner: R, offset: u64, line: u64) -> Self {
        RowReader {
            inner,
            offset,
            line,
            fields: Vec::new(),
            used: 0,
            current: Vec::with_capacity(256),
            scratch: Vec::new(),
            held: None,
        }
    }

    /// The fields of the last [`Next::Row`].
    pub fn fields(&self) -> &[Vec<u8>] {
        &self.fields[..self.used]
    }

    /// Byte offset after everything consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Lines consumed so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    fn next_line(&mut self) -> io::Result<bool> {
        if let Some(held) = self.held.take() {
            self.current = held;
            return Ok(true);
        }
        self.current.clear();
        Ok(self.inner.read_until(b'\n', &mut self.current)? > 0)
    }

    fn push_field(&mut self, field: &mut Vec<u8>) {
        if self.used == self.fields.len() {
            self.fields.push(Vec::new());
        }
        std::mem::swap(&mut self.fields[self.used], field);
        field.clear();
        self.used += 1;
    }

    /// Reads the next record.
    pub fn read(&mut self) -> io::Result<Next> {
        loop {
            if !self.next_line()? {
                return Ok(Next::End);
            }
            let start = (self.offset, self.line);
            let blank = self.current.iter().all(|&b| b == b'\n' || b == b'\r');
            if blank {
                self.consume_current();
                continue;
            }
            self.used = 0;
            let mut field = std::mem::take(&mut self.scratch);
            field.clear();
            let mut state = State::StartField;
            loop {
                state = self.scan(state, &mut field);
                self.consume_current();
                if state != State::Quoted {
                    break;
                }
                // A quoted field is open at the end of the line: continue it on the next
                // line, unless that line starts a row of its own.
                if !self.next_line()? {
                    return Ok(Next::Unfinished {
                        offset: start.0,
                        line: start.1,
                    });
                }
                if looks_like_row_start(&self.current) {
                    let line = self.line + 1;
                    self.held = Some(std::mem::take(&mut self.current));
                    self.scratch = field;
                    return Ok(Next::Unbalanced {
                        line: start.1 + 1,
                        next_line: line,
                    });
                }
            }
            self.push_field(&mut field);
            self.scratch = field;
            return Ok(Next::Row {
                line: start.1 + 1,
                offset: start.0,
            });
        }
    }

    fn consume_current(&mut self) {
        self.offset += self.current.len() as u64;
        self.line += u64::from(self.current.last() == Some(&b'\n'));
    }

    /// Runs the state machine over the current line, pushing completed fields.
    fn scan(&mut self, mut state: State, field: &mut Vec<u8>) -> State {
        let line = std::mem::take(&mut self.current);
        let n = line.len();
        for (i, &b) in line.iter().enumerate() {
            let crlf_end = b == b'\r' && i + 2 == n && line[n - 1] == b'\n';
            state = match (state, b) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, b) => {
                    field.push(b);
                    State::Quoted
                }
                (State::QuoteInQuoted, b'"') => {
                    field.push(b'"');
                    State::Quoted
                }
                (_, b'\n') => break,
                (_, b'\r') if crlf_end => continue,
                (_, b',') => {
                    self.push_field(field);
                    State::StartField
                }
                (State::StartField, b'"') => State::Quoted,
                (_, b) => {
                    field.push(b);
                    State::Unquoted
                }
            };
        }
        self.current = line;
        state
    }
}

/// True if `line` starts with a timestamp and a comma, as every archive row does.
fn looks_like_row_start(line: &[u8]) -> bool {
    let Some(comma) = line.iter().take(64).position(|&b| b == b',') else {
        return false;
    };
    std::str::from_utf8(&line[..comma])
        .ok()
        .and_then(parse_row_timestamp)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Vec<String> {
        let mut r = RowReader::new(text.as_bytes(), 0, 0);
        let mut out = Vec::new();
        loop {
            match r.read().unwrap() {
                Next::Row { line, .. } => {
                    let fields: Vec<String> = r
                        .fields()
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect();
                    out.push(format!("{line}:{}", fields.join("|")));
                }
                Next::Unbalanced { line, next_line } => {
                    out.push(format!("{line}:unbalanced->{next_line}"))
                }
                Next::Unfinished { offset, .. } => out.push(format!("unfinished@{offset}")),
                Next::End => return out,
            }
        }
    }

    #[test]
    fn rfc4180_records() {
        assert_eq!(
            read_all("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",z\r\n\n2,\"multi\nline\",3\n"),
            ["1:a|b|c", "2:x, y|say \"hi\"|z", "4:2|multi\nline|3"]
        );
        assert_eq!(read_all("a,b\"c,d\n"), ["1:a|b\"c|d"]);
        assert_eq!(read_all("x,,\n"), ["1:x||"]);
    }

    #[test]
    fn an_unbalanced_quote_does_not_swallow_the_next_rows() {
        let text = "2026-01-01T00:00:00Z,bob,\"broken\n2026-01-01T00:00:01Z,amy,fine\n2026-01-01T00:00:02Z,cy,also\n";
        assert_eq!(
            read_all(text),
            [
                "1:unbalanced->2",
                "2:2026-01-01T00:00:01Z|amy|fine",
                "3:2026-01-01T00:00:02Z|cy|also"
            ]
        );
        assert_eq!(read_all("a,\"open\nstill open"), ["unfinished@0"]);
    }
}
