//! docs/PROTOCOL.md, read at test time: every worked example (the fenced
//! "```hex frame NAME" and "```hex bytes NAME" blocks) decodes and
//! re-encodes to the same bytes with this crate's codec, and the tables of
//! message types and error codes agree with it. The session-keys block needs
//! X25519 and BLAKE2b, which std does not have: it is checked by the C suite
//! (tests/core/test_codec.c) and here only for its size.

use hermes::protocol::*;
use std::path::PathBuf;

struct Block {
    kind: String,
    name: String,
    line: usize,
    bytes: Vec<u8>,
}

fn doc() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/PROTOCOL.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {}", p.display(), e))
}

/// The hex blocks: two-digit hex bytes separated by spaces, "#" starts a comment.
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        match cur.take() {
            None => {
                if let Some(head) = line.strip_prefix("```hex ") {
                    let mut w = head.split_whitespace();
                    let (kind, name) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
                    // "refused": a frame the document shows being refused
                    // (checked by tests/core/test_codec.c).
                    assert!(kind == "frame" || kind == "bytes" || kind == "refused", "PROTOCOL.md:{}: want ```hex frame|bytes|refused NAME", lineno);
                    assert!(!name.is_empty(), "PROTOCOL.md:{}: block without a name", lineno);
                    cur = Some(Block { kind: kind.into(), name: name.into(), line: lineno, bytes: Vec::new() });
                }
            }
            Some(mut b) => {
                if line.starts_with("```") {
                    out.push(b);
                    continue;
                }
                let data = line.split('#').next().unwrap();
                for tok in data.split_whitespace() {
                    let v = u8::from_str_radix(tok, 16).ok().filter(|_| tok.len() == 2);
                    b.bytes.push(v.unwrap_or_else(|| panic!("PROTOCOL.md:{}: '{}' is not a hex byte", lineno, tok)));
                }
                cur = Some(b);
            }
        }
    }
    assert!(cur.is_none(), "PROTOCOL.md: hex block not closed");
    out
}

fn find<'a>(all: &'a [Block], kind: &str, name: &str) -> &'a Block {
    all.iter().find(|b| b.kind == kind && b.name == name).unwrap_or_else(|| panic!("PROTOCOL.md has no {} block '{}'", kind, name))
}

fn only_frame(b: &Block) -> Frame<'_> {
    let mut d = Decoder::new(&b.bytes);
    let f = d.try_next().unwrap_or_else(|e| panic!("PROTOCOL.md:{} ({}): {}", b.line, b.name, e.name()));
    assert_eq!(d.consumed(), b.bytes.len(), "PROTOCOL.md:{} ({}): not exactly one frame", b.line, b.name);
    f
}

#[test]
fn every_example_frame_decodes_and_reencodes_byte_for_byte() {
    let text = doc();
    let all = blocks(&text);
    let mut enc = Encoder::new(0);
    let mut frames = 0;
    for b in all.iter().filter(|b| b.kind == "frame") {
        frames += 1;
        let f = only_frame(b);
        let h = f.header;
        enc.reset();
        let again = if h.flags & FLAG_ENCRYPTED == 0 {
            let m = Message::parse(h.msg_type, f.payload).unwrap_or_else(|e| panic!("PROTOCOL.md:{} ({}): payload {}", b.line, b.name, e.name()));
            assert_eq!(m.msg_type(), h.msg_type);
            // PUBLISH is the one type whose flags (ACK_REQUESTED) a structured
            // message does not carry.
            if h.flags == 0 {
                enc.encode_message(h.channel, h.sequence, &m).unwrap().to_vec()
            } else {
                enc.encode_frame(h.msg_type, h.flags, h.channel, h.sequence, f.payload).unwrap().to_vec()
            }
        } else {
            // Sealed: the payload is ciphertext; the header rules still apply.
            enc.encode_frame(h.msg_type, h.flags, h.channel, h.sequence, f.payload).unwrap().to_vec()
        };
        assert_eq!(again, b.bytes, "PROTOCOL.md:{} example '{}' re-encodes differently", b.line, b.name);
        // The C codec reads the example the same way.
        let (ch, off) = common::c_codec::decode_first(&b.bytes, 0, 0).unwrap();
        assert_eq!((ch.type_, ch.flags, ch.length, ch.channel, ch.sequence, off), (h.msg_type as u8, h.flags, h.length, h.channel, h.sequence, HEADER_SIZE));
    }
    assert_eq!(frames, 35, "PROTOCOL.md frame examples: update this test when adding one");

    // Specific contents, so a decoder that accepted anything would fail.
    let publish = only_frame(find(&all, "frame", "publish"));
    assert_eq!((publish.header.msg_type, publish.header.channel, publish.header.sequence), (MessageType::Publish, 1, 1));
    assert_eq!(publish.header.flags, FLAG_ACK_REQUESTED);
    assert_eq!(publish.payload, b"hello");
    let err = only_frame(find(&all, "frame", "error"));
    match Message::parse(err.header.msg_type, err.payload).unwrap() {
        Message::Error(e) => assert_eq!((e.code, e.fatal, e.text), (6, false, "no ring 'nosuch'")),
        m => panic!("error example parsed as {:?}", m),
    }
    let loss = only_frame(find(&all, "frame", "loss"));
    assert_eq!(Message::parse(loss.header.msg_type, loss.payload).unwrap(), Message::Loss { count: 57 });
    assert_eq!(loss.header.sequence, 1000);
    // User tags (PROTOCOL.md 8.1).
    let tagged = only_frame(find(&all, "frame", "deliver-tagged"));
    assert_eq!(tagged.header.flags, FLAG_TAGGED);
    assert_eq!(Message::tag_split(tagged.header.flags, tagged.payload).unwrap(), (42, &b"hello"[..]));
    let refused = only_frame(find(&all, "refused", "publish-tag-0"));
    assert!(Message::tag_split(refused.header.flags, refused.payload).is_err());
}

#[test]
fn transcripts_match_the_examples() {
    let text = doc();
    let all = blocks(&text);
    let parse = |name: &str| {
        let b = find(&all, "frame", name);
        let f = only_frame(b);
        Message::parse(f.header.msg_type, f.payload).unwrap()
    };
    let (hello, welcome, challenge, response) = match (parse("hello"), parse("welcome"), parse("auth-challenge"), parse("auth-response")) {
        (Message::Hello(h), Message::Welcome(w), Message::AuthChallenge(c), Message::AuthResponse(r)) => (h, w, c, r),
        other => panic!("handshake examples parsed as {:?}", other),
    };
    assert_eq!(hello.identity, b"sensor-7");
    assert_eq!(welcome.name, b"bridge-a");
    let client = Transcript::new(Role::Client, &hello, &welcome, &challenge, &response).unwrap();
    assert_eq!(client.as_bytes(), &find(&all, "bytes", "transcript-client").bytes[..]);
    let server = Transcript::new(Role::Server, &hello, &welcome, &challenge, &response).unwrap();
    assert_eq!(server.as_bytes(), &find(&all, "bytes", "transcript-server").bytes[..]);
    assert!(Transcript::new(Role::Any, &hello, &welcome, &challenge, &response).is_err());
    assert_eq!(find(&all, "bytes", "session-keys").bytes.len(), 64);
    // No block goes unchecked.
    assert_eq!(all.len(), 35 + 3 + 2);
}

/// The rows of the Markdown table after `marker`, split into cells.
fn table(text: &str, marker: &str) -> Vec<Vec<String>> {
    let start = text.find(marker).unwrap_or_else(|| panic!("PROTOCOL.md has no {}", marker));
    text[start..]
        .lines()
        .skip(3) // marker, header row, separator
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().trim_matches('`').to_string()).collect())
        .collect()
}

#[test]
fn type_table_matches_the_codec() {
    let text = doc();
    let rows = table(&text, "<!-- table:types -->");
    assert_eq!(rows.len(), MessageType::ALL.len());
    for (row, t) in rows.iter().zip(MessageType::ALL.iter()) {
        let code = u8::from_str_radix(row[0].trim_start_matches("0x"), 16).unwrap();
        assert_eq!((code, row[1].as_str()), (*t as u8, t.name()), "types table row {:?}", row);
        assert_eq!(MessageType::from_u8(code), Some(*t));
        let (lo, hi) = t.payload_range();
        let want = match (row[7].as_str(), hi) {
            ("any", None) => true,
            (s, Some(hi)) if lo == hi => s == lo.to_string(),
            (s, Some(hi)) => s == format!("{}..{}", lo, hi),
            _ => false,
        };
        assert!(want, "{}: table says payload {}, codec {:?}", t.name(), row[7], (lo, hi));
        let mut flags = 0;
        for f in row[6].split(',').map(str::trim) {
            flags |= match f {
                "A" => FLAG_ACK_REQUESTED,
                "E" => FLAG_ENCRYPTED,
                "T" => FLAG_TAGGED,
                _ => 0,
            };
        }
        assert_eq!(flags, t.allowed_flags(), "{}: flags", t.name());
        assert_eq!(row[4] != "–", t.has_channel(), "{}: channel column", t.name());
        assert_eq!(row[5] != "–", t.has_sequence(), "{}: sequence column", t.name());
    }
}

#[test]
fn error_table_matches_the_crate() {
    let text = doc();
    let rows = table(&text, "<!-- table:errors -->");
    // The crate knows codes 1..=30; a newer libhermes-ipc may document more,
    // which the crate maps to Error::Unknown with the number.
    for (code, name) in hermes::KNOWN_CODES {
        let row = rows.iter().find(|r| r[0] == code.to_string()).unwrap_or_else(|| panic!("errors table has no code {}", code));
        assert_eq!(row[1], *name);
        let e = hermes::Error::from_code(*code, hermes::Detail::none());
        assert_eq!((e.code(), e.name()), (*code, *name));
    }
    let e = hermes::Error::from_code(999, hermes::Detail::none());
    assert!(matches!(e, hermes::Error::Unknown(999, _)));
    assert!(!e.to_string().is_empty());
}

mod common;
