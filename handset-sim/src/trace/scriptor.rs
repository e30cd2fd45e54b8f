//! Import of pcsc-tools `scriptor` files: input scripts and output logs.
//!
//! Both forms follow what `/usr/bin/scriptor` (pcsc-tools 1.6) reads and prints:
//!
//! - **Script** (scriptor's input): one command APDU per line in hex, with or without
//!   spaces between bytes (`00A4000402 3F00` or `00 A4 00 04 02 3F 00`); a trailing `\`
//!   continues the command on the next line; a line starting with `#` is a comment;
//!   blank lines are skipped; a line containing `reset` (any case) resets the card;
//!   a line containing `exit` ends the script. Responses are unknown, so every command
//!   becomes `COMMAND : *` (sent but not checked by replay; run `imeitrack trace
//!   replay --update` against a card to fill them in), and `reset` becomes `RESET *`.
//! - **Log** (scriptor's output): `> COMMAND` then `< RESPONSE : text`, where a long
//!   response is wrapped after every 16 bytes onto lines without a prefix, and
//!   `> RESET` is answered by `< OK: ATR` or `< KO: error`. Other lines (the echoed
//!   input, "Using T=0 protocol") are ignored. A file with any line starting with `> `
//!   or `< ` is read as a log.

use super::Trace;
use super::format::ParseError;

fn is_log(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("> ") || l.starts_with("< ") || l == ">" || l == "<")
}

/// Reads a scriptor script or log (see the module docs); `file` names it in errors.
pub fn import(text: &str, file: &str) -> Result<Trace, ParseError> {
    let mut trace = if is_log(text) {
        import_log(text, file)?
    } else {
        import_script(text, file)?
    };
    trace.header.fields.insert(
        0,
        (
            "producer".to_owned(),
            format!("imeitrack scriptor import of {file}"),
        ),
    );
    Ok(trace)
}

/// Parses hex bytes in `s` (tokens separated by whitespace, each an even number of hex
/// digits) into `out`; on error returns (byte offset in `s`, message).
fn hex_tokens(s: &str, out: &mut Vec<u8>) -> Result<(), (usize, String)> {
    let mut at = 0;
    for tok in s.split_ascii_whitespace() {
        let off = s[at..].find(tok).map_or(at, |i| at + i);
        at = off + tok.len();
        if let Some(i) = tok.find(|c: char| !c.is_ascii_hexdigit()) {
            let c = tok[i..].chars().next().unwrap_or('?');
            return Err((off + i, format!("{c:?} is not a hex digit")));
        }
        if tok.len() % 2 != 0 {
            return Err((off, format!("odd number of hex digits in {tok:?}")));
        }
        out.extend(
            tok.as_bytes().chunks_exact(2).map(|p| {
                u8::from_str_radix(std::str::from_utf8(p).unwrap_or("00"), 16).unwrap_or(0)
            }),
        );
    }
    Ok(())
}

fn error(file: &str, line: usize, line_text: &str, byte: usize, message: String) -> ParseError {
    ParseError {
        file: file.to_owned(),
        line,
        column: line_text.get(..byte).map_or(byte, |s| s.chars().count()) + 1,
        message,
    }
}

fn import_script(text: &str, file: &str) -> Result<Trace, ParseError> {
    let mut trace = Trace::new();
    let mut cmd: Vec<u8> = Vec::new();
    let mut cmd_line = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.to_ascii_lowercase().contains("exit") {
            break;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line.to_ascii_lowercase().contains("reset") {
            trace.push_event_at(
                None,
                u32::try_from(n).ok(),
                super::Event::Reset { atr: &[] },
            );
            continue;
        }
        let (body, continued) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        if cmd.is_empty() {
            cmd_line = n;
        }
        hex_tokens(body, &mut cmd).map_err(|(at, m)| error(file, n, line, at, m))?;
        if continued {
            continue;
        }
        if cmd.len() < 4 {
            return Err(error(
                file,
                n,
                line,
                0,
                format!(
                    "command of {} byte(s) is too short (at least CLA INS P1 P2)",
                    cmd.len()
                ),
            ));
        }
        trace.push_event_at(
            None,
            u32::try_from(cmd_line).ok(),
            super::Event::Exchange(super::Exchange {
                command: &cmd,
                response: None,
            }),
        );
        cmd.clear();
    }
    if !cmd.is_empty() {
        return Err(ParseError {
            file: file.to_owned(),
            line: cmd_line,
            column: 1,
            message: "the file ends inside a command continued with '\\'".to_owned(),
        });
    }
    Ok(trace)
}

fn import_log(text: &str, file: &str) -> Result<Trace, ParseError> {
    let mut trace = Trace::new();
    /// What the last `>` line asked for.
    enum Pending {
        None,
        Reset(usize),
        Command(usize, Vec<u8>),
        /// Inside a wrapped response: command line, command, response so far.
        Response(usize, Vec<u8>, Vec<u8>),
    }
    let mut pending = Pending::None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        // A wrapped response continues on lines without prefix until one has " : ".
        if matches!(pending, Pending::Response(..))
            && let Pending::Response(cl, cmd, mut rsp) =
                std::mem::replace(&mut pending, Pending::None)
        {
            let (hex, done) = match line.split_once(':') {
                Some((h, _)) => (h, true),
                None => (line, false),
            };
            hex_tokens(hex, &mut rsp).map_err(|(at, m)| error(file, n, line, at, m))?;
            if done {
                push_exchange(&mut trace, file, n, cl, &cmd, &rsp)?;
            } else {
                pending = Pending::Response(cl, cmd, rsp);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix('>') {
            if rest.trim().eq_ignore_ascii_case("reset") {
                pending = Pending::Reset(n);
                continue;
            }
            let mut cmd = Vec::new();
            hex_tokens(rest, &mut cmd).map_err(|(at, m)| error(file, n, line, at + 1, m))?;
            pending = Pending::Command(n, cmd);
        } else if let Some(rest) = line.strip_prefix('<') {
            match std::mem::replace(&mut pending, Pending::None) {
                Pending::Reset(rl) => {
                    let rest = rest.trim_start();
                    if let Some(atr) = rest.strip_prefix("OK:") {
                        let mut a = Vec::new();
                        hex_tokens(atr, &mut a).map_err(|(at, m)| {
                            error(file, n, line, line.len() - rest.len() + 3 + at, m)
                        })?;
                        trace.push_event_at(
                            None,
                            u32::try_from(rl).ok(),
                            super::Event::Reset { atr: &a },
                        );
                    }
                    // `< KO: …`: the reset failed; nothing happened to the card.
                }
                Pending::Command(cl, cmd) => {
                    let (hex, done) = match rest.split_once(':') {
                        Some((h, _)) => (h, true),
                        None => (rest, false),
                    };
                    let mut rsp = Vec::new();
                    hex_tokens(hex, &mut rsp).map_err(|(at, m)| error(file, n, line, at + 1, m))?;
                    if done {
                        push_exchange(&mut trace, file, n, cl, &cmd, &rsp)?;
                    } else {
                        pending = Pending::Response(cl, cmd, rsp);
                    }
                }
                Pending::None | Pending::Response(..) => {
                    return Err(error(
                        file,
                        n,
                        line,
                        0,
                        "a '<' response line without a '>' command before it".to_owned(),
                    ));
                }
            }
        }
    }
    match pending {
        Pending::Command(cl, _) | Pending::Response(cl, ..) => Err(ParseError {
            file: file.to_owned(),
            line: cl,
            column: 1,
            message: "the log ends before the response to this command".to_owned(),
        }),
        _ => Ok(trace),
    }
}

fn push_exchange(
    trace: &mut Trace,
    file: &str,
    rsp_line: usize,
    cmd_line: usize,
    cmd: &[u8],
    rsp: &[u8],
) -> Result<(), ParseError> {
    if rsp.len() < 2 {
        return Err(ParseError {
            file: file.to_owned(),
            line: rsp_line,
            column: 1,
            message: "response without a status word".to_owned(),
        });
    }
    if cmd.len() < 4 {
        return Err(ParseError {
            file: file.to_owned(),
            line: cmd_line,
            column: 1,
            message: format!("command of {} byte(s) is too short", cmd.len()),
        });
    }
    trace.push_event_at(
        None,
        u32::try_from(cmd_line).ok(),
        super::Event::Exchange(super::Exchange {
            command: cmd,
            response: Some(rsp),
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Event;
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn script() {
        let t = import(
            "# select MF\n00 A4 00 04 02 3F 00\n\n80120000\\\n 0B\nRESET\n80 10 00 00 03 \\\nFF FF FF\nexit\n00 00 00 00\n",
            "s.txt",
        )
        .unwrap();
        let e: Vec<_> = t.entries().map(|e| (e.line, e.event)).collect();
        assert_eq!(e.len(), 4);
        let cmd = |s: &str| {
            Event::Exchange(super::super::Exchange {
                command: Box::leak(h(s).into_boxed_slice()),
                response: None,
            })
        };
        assert_eq!(e[0], (Some(2), cmd("00A40004023F00")));
        assert_eq!(e[1], (Some(4), cmd("801200000B")));
        assert_eq!(e[2], (Some(6), Event::Reset { atr: &[] }));
        assert_eq!(e[3], (Some(7), cmd("80100000 03 FFFFFF")));
    }

    #[test]
    fn script_errors() {
        let e = import("00 A4 00 04 02 3F 0G\n", "s.txt").unwrap_err();
        assert_eq!(e.to_string(), "s.txt:1:20: 'G' is not a hex digit");
        let e = import("\n00 A4 0\n", "s.txt").unwrap_err();
        assert_eq!((e.line, e.column), (2, 7));
        let e = import("00 A4 00 04 \\\n", "s.txt").unwrap_err();
        assert!(e.message.contains("ends inside"));
    }

    /// Output format as printed by /usr/bin/scriptor (pcsc-tools): responses wrapped after
    /// 16 bytes; the exchange of /work/shared/research/tools-on-these-machines.md §1.
    #[test]
    fn log() {
        let text = "Using T=0 protocol\n\
                    00 A4 00 04 02 3F 00\n\
                    > 00 A4 00 04 02 3F 00\n\
                    < 90 00 : Normal processing.\n\
                    > 80 12 00 00 0B\n\
                    < D0 09 81 03 01 26 01 82 02 81 82 90 00 : Normal processing.\n\
                    > RESET\n\
                    < OK: 3B 02 14 50 \n\
                    > 00 C0 00 00 10\n\
                    < 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F \n\
                    90 00 : Normal processing.\n\
                    > 00 C0 00 00 0E\n\
                    < 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F \n\
                    \x20: Normal processing.\n\
                    > RESET\n\
                    < KO: Card removed\n";
        let t = import(text, "log.txt").unwrap();
        let e: Vec<_> = t.entries().map(|e| e.event).collect();
        assert_eq!(e.len(), 5);
        let Event::Exchange(x) = e[1] else { panic!() };
        assert_eq!(x.response.unwrap(), h("D0098103012601820281829000"));
        assert_eq!(
            e[2],
            Event::Reset {
                atr: &h("3B021450")
            }
        );
        let Event::Exchange(x) = e[3] else { panic!() };
        assert_eq!(
            x.response.unwrap(),
            h("000102030405060708090A0B0C0D0E0F9000")
        );
        let Event::Exchange(x) = e[4] else { panic!() };
        assert_eq!(x.response.unwrap(), h("000102030405060708090A0B0C0D0E0F"));
        assert_eq!(x.sw().unwrap().0, 0x0E0F);
        let err = import("< 90 00 : x\n", "l").unwrap_err();
        assert!(err.message.contains("without a '>'"));
        let err = import("> 00 A4 00 00\n", "l").unwrap_err();
        assert!(err.message.contains("ends before"));
    }
}
