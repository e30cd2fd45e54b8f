//! The `.apdu` trace text format, version 1 (specified in `docs/traces.md`).
//!
//! ```text
//! #!imeitrack-trace v1
//! # producer: handset-sim 0.1.0
//! # card: test card (sysmoUSIM ATR)
//! # handset: none
//! +0.000000 POWER_ON 3B 9F 96 80 1F C7 80 31 A0 73 BE 21 13 67 43 20 07 18 00 00 01 A5
//! +0.000120 80 10 00 00 08 2301294211000007 : 91 0B  # TERMINAL PROFILE
//! +0.000250 80 12 00 00 0B : D0098103012601820281 82 : 90 00  # FETCH: PROVIDE LOCAL INFORMATION
//! +0.000300 00 A4 00 04 02 3F00 : *  # response not recorded
//! +0.010000 POWER_OFF
//! ```
//!
//! One event per line: an optional relative time `+SECONDS.FRACTION`, then either a
//! keyword (`POWER_ON ATR`, `RESET ATR`, `POWER_OFF`; `*` for an ATR not recorded) or an exchange
//! `COMMAND : RESPONSE` / `COMMAND : DATA : SW` / `COMMAND : *`. Hex is strict (two
//! digits per byte, whitespace only between bytes or groups of bytes); whitespace and
//! `#` comments are free. `# key: value` comments before the first event form the
//! [`Header`](super::Header). Decoded summaries are written as comments and ignored on
//! reading.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use super::decode::Decoder;
use super::{Entry, Event, Exchange, Trace};

/// The first line of every version-1 trace.
pub const MAGIC: &str = "#!imeitrack-trace v1";

/// A syntax error in a trace file, with its position (1-based line and column, columns
/// counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// File name as given by the caller (`-` for standard input).
    pub file: String,
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Reading a trace file failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating-system error.
        source: io::Error,
    },
    /// The file is not a valid trace.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Reads a `.apdu` file (see [`read_trace`]).
pub fn read_trace_file(path: &Path) -> Result<Trace, TraceFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TraceFileError::Io {
        path: name.clone(),
        source,
    })?;
    Ok(read_trace(&text, &name)?)
}

/// Parses `.apdu` text; `file` names the source in errors.
pub fn read_trace(text: &str, file: &str) -> Result<Trace, ParseError> {
    let mut trace = Trace::with_capacity(text.len() / 48, text.len() / 3);
    let mut scratch: Vec<u8> = Vec::with_capacity(512);
    let mut in_header = true;
    let mut saw_magic = false;
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let err = |column: usize, message: String| ParseError {
            file: file.to_owned(),
            line: lineno,
            column,
            message,
        };
        if !saw_magic {
            let first = raw.trim_end();
            if first == MAGIC {
                saw_magic = true;
                continue;
            }
            if let Some(v) = first.strip_prefix("#!imeitrack-trace ") {
                return Err(err(
                    19,
                    format!("unsupported trace version {v:?} (this reader knows v1)"),
                ));
            }
            return Err(err(
                1,
                format!("not an imeitrack trace: the first line must be `{MAGIC}`"),
            ));
        }
        let (content, comment) = match raw.find('#') {
            Some(i) => (&raw[..i], Some(&raw[i + 1..])),
            None => (raw, None),
        };
        if content.trim().is_empty() {
            if in_header
                && let Some(c) = comment
                && let Some((k, v)) = header_field(c)
            {
                trace.header.fields.push((k.to_owned(), v.to_owned()));
            }
            continue;
        }
        in_header = false;
        let line = Line {
            bytes: content.as_bytes(),
            text: content,
            at: 0,
        };
        parse_event(line, lineno, &mut trace, &mut scratch).map_err(|(c, m)| err(c, m))?;
    }
    if !saw_magic {
        return Err(ParseError {
            file: file.to_owned(),
            line: 1,
            column: 1,
            message: format!("empty file: the first line must be `{MAGIC}`"),
        });
    }
    Ok(trace)
}

/// `key: value` in a header comment (key: ASCII letters, digits, `-`, `_`).
fn header_field(comment: &str) -> Option<(&str, &str)> {
    let c = comment.trim();
    let (k, v) = c.split_once(':')?;
    let k = k.trim();
    if k.is_empty()
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some((k, v.trim()))
}

struct Line<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

type LineResult<T> = Result<T, (usize, String)>;

impl<'a> Line<'a> {
    /// 1-based character column of byte offset `at`.
    fn column(&self, at: usize) -> usize {
        self.text
            .get(..at)
            .map_or(at, |s| s.chars().count())
            .saturating_add(1)
    }

    fn skip_ws(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// The next whitespace-delimited token (empty at the end).
    fn token(&mut self) -> (usize, &'a str) {
        self.skip_ws();
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| !b.is_ascii_whitespace())
        {
            self.at += 1;
        }
        let text: &'a str = self.text;
        (start, text.get(start..self.at).unwrap_or(""))
    }

    fn error<T>(&self, at: usize, message: String) -> LineResult<T> {
        Err((self.column(at), message))
    }

    /// Hex bytes up to `:` or the end of the content, appended to `out`.
    fn hex_run(&mut self, out: &mut Vec<u8>) -> LineResult<()> {
        loop {
            self.skip_ws();
            let start = self.at;
            let Some(b) = self.peek() else { return Ok(()) };
            if b == b':' {
                return Ok(());
            }
            while let Some(b) = self.peek() {
                if b.is_ascii_whitespace() || b == b':' {
                    break;
                }
                if !b.is_ascii_hexdigit() {
                    let ch = self.text.get(self.at..).and_then(|s| s.chars().next());
                    return self.error(
                        self.at,
                        format!(
                            "{:?} is not a hex digit",
                            ch.unwrap_or(char::REPLACEMENT_CHARACTER)
                        ),
                    );
                }
                self.at += 1;
            }
            let group = self.bytes.get(start..self.at).unwrap_or(&[]);
            if group.len() % 2 != 0 {
                return self.error(
                    start,
                    format!(
                        "odd number of hex digits in {:?} (two digits per byte)",
                        self.text.get(start..self.at).unwrap_or("")
                    ),
                );
            }
            for pair in group.chunks_exact(2) {
                out.push((nibble(pair[0]) << 4) | nibble(pair[1]));
            }
        }
    }

    fn expect_end(&mut self, what: &str) -> LineResult<()> {
        self.skip_ws();
        if self.at < self.bytes.len() {
            let (at, tok) = self.token();
            return self.error(at, format!("unexpected {tok:?} after {what}"));
        }
        Ok(())
    }
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Parses `SECONDS[.FRACTION]` (up to 9 fraction digits) into a duration.
pub fn parse_seconds(s: &str) -> Option<Duration> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(Duration::new(secs, nanos))
}

fn parse_event(
    mut line: Line<'_>,
    lineno: usize,
    trace: &mut Trace,
    scratch: &mut Vec<u8>,
) -> LineResult<()> {
    let lineno = u32::try_from(lineno).ok();
    line.skip_ws();
    let mut time = None;
    if line.peek() == Some(b'+') {
        let (at, tok) = line.token();
        time = Some(match parse_seconds(&tok[1..]) {
            Some(t) => t,
            None => {
                return line.error(
                    at,
                    format!("bad time {tok:?} (expected +SECONDS.FRACTION, e.g. +0.000120)"),
                );
            }
        });
        line.skip_ws();
    }
    // Keyword?
    let save = line.at;
    let (kw_at, kw) = line.token();
    let keyword = if kw.eq_ignore_ascii_case("POWER_ON") {
        Some(0)
    } else if kw.eq_ignore_ascii_case("RESET") {
        Some(1)
    } else if kw.eq_ignore_ascii_case("POWER_OFF") {
        Some(2)
    } else {
        None
    };
    scratch.clear();
    match keyword {
        Some(2) => {
            line.expect_end("POWER_OFF")?;
            trace.push_event_at(time, lineno, Event::PowerOff);
            return Ok(());
        }
        Some(k) => {
            line.skip_ws();
            if line.peek() == Some(b'*') {
                // ATR not recorded (e.g. a scriptor script's `reset`).
                line.at += 1;
                line.expect_end("'*'")?;
            } else {
                line.hex_run(scratch)?;
                if scratch.is_empty() {
                    return line
                        .error(kw_at, format!("{kw} needs the ATR in hex (`*` if unknown)"));
                }
            }
            if line.peek() == Some(b':') {
                return line.error(line.at, format!("':' not allowed after {kw}"));
            }
            let event = if k == 0 {
                Event::PowerOn { atr: scratch }
            } else {
                Event::Reset { atr: scratch }
            };
            trace.push_event_at(time, lineno, event);
            return Ok(());
        }
        None => line.at = save,
    }
    let cmd_at = line.at;
    line.hex_run(scratch)?;
    let cmd_len = scratch.len();
    if line.peek() != Some(b':') {
        if cmd_len == 0 {
            let (at, tok) = line.token();
            return line.error(
                at,
                format!("expected POWER_ON, RESET, POWER_OFF or a command in hex, found {tok:?}"),
            );
        }
        return line.error(
            line.at,
            "expected ':' and the response after the command (`: *` if unknown)".to_owned(),
        );
    }
    if cmd_len < 4 {
        return line.error(
            cmd_at,
            format!("command of {cmd_len} byte(s) is too short (at least CLA INS P1 P2)"),
        );
    }
    line.at += 1; // ':'
    line.skip_ws();
    if line.peek() == Some(b'*') {
        line.at += 1;
        line.expect_end("'*'")?;
        trace.push_event_at(
            time,
            lineno,
            Event::Exchange(Exchange {
                command: scratch,
                response: None,
            }),
        );
        return Ok(());
    }
    let rsp_at = line.at;
    line.hex_run(scratch)?;
    if line.peek() == Some(b':') {
        line.at += 1;
        let sw_at = line.at;
        let before = scratch.len();
        line.hex_run(scratch)?;
        if line.peek() == Some(b':') {
            return line.error(line.at, "a third ':' is not allowed".to_owned());
        }
        if scratch.len() - before != 2 {
            return line.error(
                sw_at,
                format!(
                    "the status word after the second ':' must be 2 bytes, found {}",
                    scratch.len() - before
                ),
            );
        }
    } else if scratch.len() - cmd_len < 2 {
        return line.error(
            rsp_at,
            "the response needs at least the status word SW1 SW2".to_owned(),
        );
    }
    let (command, response) = scratch.split_at(cmd_len);
    trace.push_event_at(
        time,
        lineno,
        Event::Exchange(Exchange {
            command,
            response: Some(response),
        }),
    );
    Ok(())
}

/// How [`write_trace`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Append a decoded summary as a `#` comment to every line.
    pub annotate: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { annotate: true }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Writes `bytes` as uppercase hex, `spaced` → a space between bytes.
pub(crate) fn put_hex(out: &mut Vec<u8>, bytes: &[u8], spaced: bool) {
    for (i, b) in bytes.iter().enumerate() {
        if spaced && i > 0 {
            out.push(b' ');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0F)]);
    }
}

/// Writes `+S.ffffff` (microseconds) or `+S.fffffffff` when sub-microsecond digits exist.
pub(crate) fn put_time(out: &mut Vec<u8>, t: Duration) {
    use std::io::Write as _;
    let nanos = t.subsec_nanos();
    let _ = if nanos.is_multiple_of(1000) {
        write!(out, "+{}.{:06}", t.as_secs(), nanos / 1000)
    } else {
        write!(out, "+{}.{:09}", t.as_secs(), nanos)
    };
}

/// Appends one event line (without newline or annotation) to `out`.
pub(crate) fn put_entry(out: &mut Vec<u8>, entry: &Entry<'_>) {
    if let Some(t) = entry.time {
        put_time(out, t);
        out.push(b' ');
    }
    match entry.event {
        Event::PowerOn { atr } | Event::Reset { atr } => {
            out.extend_from_slice(if matches!(entry.event, Event::PowerOn { .. }) {
                b"POWER_ON "
            } else {
                b"RESET "
            });
            if atr.is_empty() {
                out.push(b'*');
            } else {
                put_hex(out, atr, true);
            }
        }
        Event::PowerOff => out.extend_from_slice(b"POWER_OFF"),
        Event::Exchange(ex) => {
            let (head, data) = ex.command.split_at(ex.command.len().min(5));
            put_hex(out, head, true);
            if !data.is_empty() {
                out.push(b' ');
                put_hex(out, data, false);
            }
            out.extend_from_slice(b" : ");
            match ex.response {
                None => out.push(b'*'),
                Some(r) => {
                    let (data, sw) = r.split_at(r.len().saturating_sub(2));
                    if !data.is_empty() {
                        put_hex(out, data, false);
                        out.extend_from_slice(b" : ");
                    }
                    put_hex(out, sw, true);
                }
            }
        }
    }
}

/// Writes `trace` as `.apdu` text.
pub fn write_trace<W: Write>(mut w: W, trace: &Trace, opts: WriteOptions) -> io::Result<()> {
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(MAGIC.as_bytes());
    out.push(b'\n');
    put_header(&mut out, trace);
    let mut decoder = Decoder::new();
    for entry in trace.entries() {
        let start = out.len();
        put_entry(&mut out, &entry);
        if opts.annotate {
            out.extend_from_slice(b"  # ");
            let before = out.len();
            decoder.summary(&entry.event, &mut out);
            if out.len() == before {
                out.truncate(before - 4);
            }
        }
        // A summary never spans lines; keep the file line-oriented regardless.
        for b in out.get_mut(start..).unwrap_or(&mut []) {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
        out.push(b'\n');
        if out.len() >= 60 * 1024 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)?;
    w.flush()
}

/// Header lines `# key: value` (values on one line).
pub(crate) fn put_header(out: &mut Vec<u8>, trace: &Trace) {
    for (k, v) in &trace.header.fields {
        out.extend_from_slice(b"# ");
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend(v.bytes().map(|b| if b == b'\n' { b' ' } else { b }));
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn read(s: &str) -> Result<Trace, ParseError> {
        read_trace(s, "t.apdu")
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("0.000120"), Some(Duration::from_micros(120)));
        assert_eq!(parse_seconds("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_seconds("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_seconds("0.123456789"),
            Some(Duration::from_nanos(123_456_789))
        );
        assert_eq!(parse_seconds("0.1234567891"), None);
        assert_eq!(parse_seconds(".5"), None);
        assert_eq!(parse_seconds("1e3"), None);
    }

    #[test]
    fn all_forms() {
        let t = read(
            "#!imeitrack-trace v1\n# producer: test\n# card: x: y\n\n\
             +0.000000 POWER_ON 3B 02 14 50\n\
             80100000 08 2301294211000007 : 910B # TP\n\
             +0.5 80 12 00 00 0B : D0098103012601820281 82 : 90 00\n\
             00a4000402 3f00 : *\n\
             # later comment: not a header\n\
             reset 3B021450\n\
             80 12 00 00 0B : : 6F00\n\
             POWER_OFF  # bye\n",
        )
        .unwrap();
        assert_eq!(t.header.get("producer"), Some("test"));
        assert_eq!(t.header.get("card"), Some("x: y"));
        assert_eq!(t.header.get("later comment"), None);
        let e: Vec<_> = t.entries().collect();
        assert_eq!(e.len(), 7);
        assert_eq!(
            e[0].event,
            Event::PowerOn {
                atr: &h("3B021450")
            }
        );
        assert_eq!(e[0].line, Some(5));
        assert_eq!(e[1].time, None);
        assert_eq!(
            e[1].event,
            Event::Exchange(Exchange {
                command: &h("80100000082301294211000007"),
                response: Some(&h("910B")),
            })
        );
        assert_eq!(e[2].time, Some(Duration::from_millis(500)));
        let Event::Exchange(x) = e[2].event else {
            panic!()
        };
        assert_eq!(x.response_data(), Some(&h("D009810301260182028182")[..]));
        assert_eq!(x.sw(), Some(applet::wire::apdu::StatusWord::OK));
        let Event::Exchange(x) = e[3].event else {
            panic!()
        };
        assert_eq!(x.response, None);
        assert_eq!(
            e[4].event,
            Event::Reset {
                atr: &h("3B021450")
            }
        );
        let Event::Exchange(x) = e[5].event else {
            panic!()
        };
        assert_eq!(x.response, Some(&h("6F00")[..]));
        assert_eq!(e[6].event, Event::PowerOff);
    }

    fn err(body: &str) -> ParseError {
        read(&format!("{MAGIC}\n{body}\n")).unwrap_err()
    }

    #[test]
    fn error_positions() {
        let e = err("80 12 00 00 0G : 9000");
        assert_eq!((e.line, e.column), (2, 14), "{e}");
        assert!(e.message.contains("'G' is not a hex digit"), "{e}");
        assert_eq!(e.to_string(), "t.apdu:2:14: 'G' is not a hex digit");

        let e = err("80 12 00 00 0B : D0 9 : 90 00");
        assert_eq!((e.line, e.column), (2, 21), "{e}");
        assert!(e.message.contains("odd number"), "{e}");

        let e = err("80 12 00 00 0B");
        assert_eq!(e.column, 15, "{e}");
        assert!(e.message.contains("expected ':'"), "{e}");

        let e = err("80 12 00 00 0B : 90");
        assert_eq!(e.column, 18, "{e}");
        assert!(e.message.contains("status word"), "{e}");

        let e = err("80 12 00 00 0B : D0 : 90 00 00");
        assert_eq!(e.column, 22, "{e}");

        let e = err("+x.1 POWER_OFF");
        assert_eq!(e.column, 1, "{e}");
        assert!(e.message.contains("bad time"), "{e}");

        let e = err("POWER_OFF 3B");
        assert_eq!(e.column, 11, "{e}");

        let e = err("POWER_ON");
        assert!(e.message.contains("ATR"), "{e}");

        let e = err("HELLO 80");
        assert_eq!(e.column, 1, "{e}");
        assert!(e.message.contains("'H' is not a hex digit"), "{e}");

        let e = err("8012 : 9000");
        assert!(e.message.contains("too short"), "{e}");

        let e = err("80 12 00 00 0B : * 90");
        assert_eq!(e.column, 20, "{e}");

        // Columns count characters, not bytes.
        let e = err("é 80");
        assert_eq!(e.column, 1, "{e}");

        let e = read("80 12 00 00 00 : 90 00\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("not an imeitrack trace"));

        let e = read("#!imeitrack-trace v2\n").unwrap_err();
        assert!(e.message.contains("unsupported trace version"));
        let e = read("").unwrap_err();
        assert!(e.message.contains("empty file"));
    }

    #[test]
    fn round_trip() {
        let mut t = Trace::new();
        t.header.set("producer", "unit test");
        t.header.set("card", "none");
        t.push_power_on(
            Some(Duration::ZERO),
            &h("3B9F96801FC78031A073BE21136743200718000001A5"),
        );
        t.push_exchange(
            Some(Duration::from_micros(120)),
            &h("80100000082301294211000007"),
            &h("910B"),
        );
        t.push_exchange(
            Some(Duration::from_nanos(250_001)),
            &h("801200000B"),
            &h("D0098103012601820281829000"),
        );
        t.push_command(None, &h("00A40004023F00"));
        t.push_reset(None, &[]);
        t.push_reset(Some(Duration::from_secs(3)), &h("3B021450"));
        t.push_power_off(Some(Duration::from_secs(4)));
        for annotate in [false, true] {
            let mut out = Vec::new();
            write_trace(&mut out, &t, WriteOptions { annotate }).unwrap();
            let text = String::from_utf8(out).unwrap();
            let back = read(&text).unwrap();
            assert_eq!(back, t, "{text}");
            let mut again = Vec::new();
            write_trace(&mut again, &back, WriteOptions { annotate }).unwrap();
            assert_eq!(String::from_utf8(again).unwrap(), text);
        }
    }

    #[test]
    fn writer_layout() {
        let mut t = Trace::new();
        t.push_exchange(
            Some(Duration::from_micros(250)),
            &h("801200000B"),
            &h("D0098103012601820281829000"),
        );
        t.push_exchange(None, &h("80100000082301294211000007"), &h("910B"));
        let mut out = Vec::new();
        write_trace(&mut out, &t, WriteOptions { annotate: false }).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "#!imeitrack-trace v1\n\
             +0.000250 80 12 00 00 0B : D009810301260182028182 : 90 00\n\
             80 10 00 00 08 2301294211000007 : 91 0B\n"
        );
    }
}
