//! `wire::omacp`: WBXML header, streaming decoder, typed provisioning-document view, encoder.
//!
//! Properties:
//! - `Decoder` over arbitrary bytes never panics, ends, and stops after its first error.
//! - `ProvisioningDoc::parse` never panics, succeeds exactly when the decoder runs to the end
//!   without error starting with `StartDocument`, and its typed look-ups never panic.
//! - WBXML header: `parse(emit(h)) == h` always; `emit(h)` equals the input header bytes
//!   when the input is canonical. WBXML `mb_u_int32` may be written with leading `0x80`
//!   bytes and a literal public id may point at any copy of the string in the table, so
//!   canonical = every `mb_u_int32` minimal and the literal index is the first byte offset
//!   where the string occurs
//!   (checked by a separate walk below, not by comparing with the emitter's output).
//! - Semantic round trip: a document that decodes completely and whose values are plain
//!   UTF-8 text without NUL or extension tokens (what `Encoder` can express; `parm` directly
//!   under the root is tolerated by the decoder but refused by the encoder) is re-encoded
//!   with `Encoder`; decoding that yields the same event sequence with the same value texts.
//!   The bytes differ in general (real encoders split values into pieces, use the string
//!   table, other code pages), so the exact-bytes claim is made for the encoder's own
//!   output instead: encoding the re-decoded events again gives identical bytes.
#![no_main]

use applet::wire::omacp::doc::Characteristic;
use applet::wire::omacp::{AttrValue, Decoder, Encoder, Event, Header, ProvisioningDoc, PublicId};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    StartDocument(Option<Vec<u8>>),
    StartCharacteristic(Vec<u8>),
    Parm(Vec<u8>, Option<Vec<u8>>),
    EndCharacteristic,
    EndDocument,
}

/// Largest concatenated value we materialise (STR_T references can repeat a long string).
const MAX_TEXT: usize = 1 << 16;

/// The value's text if the encoder can write it: no extension, UTF-8, no NUL.
fn text(v: &AttrValue<'_>) -> Result<Vec<u8>, ()> {
    if v.has_extension() {
        // Extension values have no text; write_to must say so.
        assert!(v.write_to(&mut [0u8; 8]).is_err());
        return Err(());
    }
    let t: Vec<u8> = v.bytes().take(MAX_TEXT + 1).collect();
    if t.len() > MAX_TEXT {
        return Err(());
    }
    // The view's other accessors agree with the byte iterator.
    assert_eq!(v.len(), t.len());
    assert_eq!(v.is_empty(), t.is_empty());
    assert!(v.eq_bytes(&t));
    assert!(v.text_eq(v));
    let mut buf = vec![0u8; t.len()];
    assert_eq!(v.write_to(&mut buf), Ok(t.len()));
    assert_eq!(buf, t);
    if !t.is_empty() {
        assert!(v.write_to(&mut buf[..t.len() - 1]).is_err());
    }
    if let Some(s) = v.as_slice() {
        assert_eq!(s, &t[..]);
    }
    if let Some(tok) = v.value_token() {
        assert_eq!(tok.text.as_bytes(), &t[..]);
    }
    if t.contains(&0) || core::str::from_utf8(&t).is_err() {
        return Err(());
    }
    Ok(t)
}

/// Decodes every event; `Ok(None)` when some value is not encodable, `Err` on a decode error.
fn events(data: &[u8]) -> Result<Option<Vec<Ev>>, ()> {
    let Ok(dec) = Decoder::new(data) else {
        return Err(());
    };
    let mut out = Vec::new();
    let mut encodable = true;
    let mut failed = false;
    let opt = |v: Option<AttrValue<'_>>, encodable: &mut bool| match v {
        None => None,
        Some(v) => match text(&v) {
            Ok(t) => Some(t),
            Err(()) => {
                *encodable = false;
                None
            }
        },
    };
    for ev in dec {
        assert!(!failed, "event after an error");
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                assert!(e.offset <= data.len());
                failed = true;
                continue;
            }
        };
        out.push(match ev {
            Event::StartDocument { version } => Ev::StartDocument(opt(version, &mut encodable)),
            Event::StartCharacteristic { kind } => {
                Ev::StartCharacteristic(opt(Some(kind), &mut encodable).unwrap_or_default())
            }
            Event::Parm { name, value } => Ev::Parm(
                opt(Some(name), &mut encodable).unwrap_or_default(),
                opt(value, &mut encodable),
            ),
            Event::EndCharacteristic => Ev::EndCharacteristic,
            Event::EndDocument => Ev::EndDocument,
        });
    }
    if failed {
        return Err(());
    }
    Ok(encodable.then_some(out))
}

/// Encodes `evs` with `Encoder`; `None` if the encoder refuses the structure.
fn encode(evs: &[Ev]) -> Option<Vec<u8>> {
    let size = 64
        + evs
            .iter()
            .map(|e| match e {
                Ev::StartDocument(v) => 8 + v.as_ref().map_or(0, Vec::len),
                Ev::StartCharacteristic(k) => 8 + k.len(),
                Ev::Parm(n, v) => 16 + n.len() + v.as_ref().map_or(0, Vec::len),
                _ => 1,
            })
            .sum::<usize>();
    let mut buf = vec![0u8; size];
    let mut e = Encoder::new(&mut buf);
    let s = |b: &Vec<u8>| String::from_utf8(b.clone()).expect("checked UTF-8");
    for ev in evs {
        let r = match ev {
            Ev::StartDocument(v) => e.start_document(v.as_ref().map(s).as_deref()),
            Ev::StartCharacteristic(k) => e.start_characteristic(&s(k)),
            Ev::Parm(n, v) => e.parm(&s(n), v.as_ref().map(s).as_deref()),
            Ev::EndCharacteristic => e.end_characteristic(),
            Ev::EndDocument => break,
        };
        if r.is_err() {
            // Only a parm under the root is refused (the buffer is large enough).
            assert!(matches!(ev, Ev::Parm(..)), "encoder refused {ev:?}");
            return None;
        }
    }
    let n = e.finish().expect("document closes");
    buf.truncate(n);
    Some(buf)
}

/// Minimal-form check of one mb_u_int32 at `pos`; returns (value, next pos, minimal).
fn mb(data: &[u8], pos: usize) -> (u32, usize, bool) {
    let (v, n) = applet::wire::wsp::uintvar::read(&data[pos..]).expect("header parsed");
    (v, pos + n, data[pos] != 0x80)
}

fn check_header(data: &[u8]) {
    let Ok((h, end)) = Header::parse(data) else {
        return;
    };
    let mut out = vec![0u8; h.buffer_len()];
    let Ok(n) = h.emit(&mut out) else {
        panic!("parsed header does not emit: {h:?}");
    };
    assert_eq!(n, out.len());
    assert_eq!(Header::parse(&out), Ok((h, n)));
    // Canonical walk.
    let mut canonical = true;
    let (pid, mut pos, m) = mb(data, 1);
    canonical &= m;
    let mut literal = None;
    if pid == 0 {
        let (idx, p, m) = mb(data, pos);
        canonical &= m;
        literal = Some(idx as usize);
        pos = p;
    }
    if data[0] != 0 {
        let (_, p, m) = mb(data, pos);
        canonical &= m;
        pos = p;
    }
    let (_, p, m) = mb(data, pos);
    canonical &= m;
    if let (Some(idx), PublicId::Literal(s)) = (literal, h.public_id) {
        // The index must be the first byte offset where `s` NUL occurs (references may
        // point into the middle of a string).
        let first = (0..h.string_table.len()).find(|&i| {
            h.string_table[i..].starts_with(s) && h.string_table.get(i + s.len()) == Some(&0)
        });
        canonical &= first == Some(idx);
    }
    assert_eq!(p + h.string_table.len(), end);
    if canonical {
        assert_eq!(out, data[..end]);
    }
}

fn walk(c: Characteristic<'_>, depth: usize) {
    let _ = text(&c.kind());
    for p in c.parms() {
        let _ = text(&p.name);
        if let Some(v) = p.value {
            let _ = text(&v);
        }
    }
    let _ = (c.value("NAME"), c.child("NAPAUTHINFO"));
    if depth < 4 {
        for child in c.children() {
            walk(child, depth + 1);
        }
    }
}

fn check_doc(data: &[u8], decoded: bool) {
    let doc = ProvisioningDoc::parse(data);
    assert_eq!(doc.is_ok(), decoded, "ProvisioningDoc and Decoder disagree");
    let Ok(doc) = doc else {
        return;
    };
    let _ = doc.header();
    if let Some(v) = doc.version() {
        let _ = text(&v);
    }
    for c in doc.characteristics() {
        walk(c, 0);
    }
    for n in doc.napdefs() {
        let _ = (n.apn(), n.napid, n.bearer, n.auth.map(|a| a.authsecret));
    }
    let _ = doc.napdef("NAP1");
    for a in doc.applications() {
        let _ = (a.appid, a.addr, a.to_napid);
    }
    let _ = doc.mms_application();
    if let Some(k) = doc.device_key() {
        let mut key = [0u8; 64];
        let _ = k.write_key(&mut key);
        let _ = k.write_key(&mut key[..1]);
    }
    assert!(doc.events().all(|e| e.is_ok()));
}

fuzz_target!(|data: &[u8]| {
    check_header(data);
    let evs = events(data);
    // The document view accepts exactly what decodes completely, starting with the root.
    let decoded = evs.is_ok()
        && Decoder::new(data)
            .is_ok_and(|mut d| matches!(d.next(), Some(Ok(Event::StartDocument { .. }))));
    check_doc(data, decoded);
    let (true, Ok(Some(evs))) = (decoded, evs) else {
        return;
    };
    let Some(bytes) = encode(&evs) else {
        return;
    };
    let again = events(&bytes)
        .expect("encoder output decodes")
        .expect("and stays encodable");
    assert_eq!(again, evs);
    let bytes2 = encode(&again).expect("re-encodes");
    assert_eq!(bytes2, bytes);
    assert!(ProvisioningDoc::parse(&bytes).is_ok());
});
