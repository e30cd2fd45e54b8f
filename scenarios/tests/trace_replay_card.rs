//! `imeitrack trace replay FILE --card CARD.toml`: replay against the project's card,
//! freshly personalised in process (clock fixed), on the committed golden trace.

use std::path::{Path, PathBuf};
use std::process::Command;

fn imeitrack(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_imeitrack"))
        .args(args)
        .output()
        .expect("run imeitrack");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn golden() -> String {
    workspace()
        .join("tests/traces/registration-first-use.apdu")
        .display()
        .to_string()
}

fn example_card() -> String {
    workspace()
        .join("handset-sim/cards/example.toml")
        .display()
        .to_string()
}

#[test]
fn replay_against_a_fresh_card_from_the_card_file() {
    let (rc, out, err) = imeitrack(&["trace", "replay", &golden(), "--card", &example_card()]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("19 exchange(s) replayed against a fresh card from"),
        "{out}"
    );
    assert!(
        out.contains("(card clock 0 ms), all responses identical"),
        "{out}"
    );
}

#[test]
fn replay_finds_the_card_named_in_the_header() {
    // `# card: handset-sim/cards/example.toml`, found above tests/traces/.
    let (rc, out, err) = imeitrack(&["trace", "replay", &golden()]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("all responses identical"), "{out}");
}

#[test]
fn another_card_diverges_and_update_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    // The example card with another ICCID: READ BINARY EF.ICCID differs first.
    let card = dir.path().join("other.toml");
    let text = std::fs::read_to_string(example_card())
        .unwrap()
        .replace("8949001012345678901", "8949001012345678902");
    std::fs::write(&card, text).unwrap();
    let (rc, out, err) = imeitrack(&[
        "trace",
        "replay",
        &golden(),
        "--card",
        card.to_str().unwrap(),
    ]);
    assert_eq!(rc, 1, "{out}{err}");
    assert!(
        err.starts_with("replay diverged at exchange 5 (event 6, "),
        "{err}"
    );
    assert!(err.contains("READ BINARY 2FE2 (EF.ICCID)"), "{err}");
    assert!(err.contains("98 94 00 01 21 43 65 87 09 F1 90 00"), "{err}");
    assert!(
        err.contains("| 98 94 00 01 21 43 65 87 09 F2 90 00"),
        "{err}"
    );

    // The explicit switch rewrites a copy with what that card answered; the rewritten
    // trace then replays identically against it.
    let copy = dir.path().join("t.apdu");
    std::fs::copy(golden(), &copy).unwrap();
    let copy = copy.to_str().unwrap();
    let (rc, _, err) = imeitrack(&[
        "trace",
        "replay",
        copy,
        "--card",
        card.to_str().unwrap(),
        "--update",
    ]);
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("rewritten with the card's answers"), "{err}");
    let (rc, out, err) = imeitrack(&["trace", "replay", copy, "--card", card.to_str().unwrap()]);
    assert_eq!(rc, 0, "{out}{err}");
}

#[test]
fn clock_option_and_missing_card_are_reported() {
    // A card clock far from the recorded one still gives the same first-use session
    // (time only matters for the rate limit).
    let (rc, out, err) = imeitrack(&[
        "trace",
        "replay",
        &golden(),
        "--card",
        &example_card(),
        "--card-clock-ms",
        "86400000",
    ]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("card clock 86400000 ms"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.apdu");
    std::fs::write(
        &t,
        "#!imeitrack-trace v1\n# card: nowhere/none.toml\n80 12 00 00 0B : 90 00\n",
    )
    .unwrap();
    let (rc, _, err) = imeitrack(&["trace", "replay", t.to_str().unwrap()]);
    assert_eq!(rc, 2);
    assert!(err.contains("--card CARD.toml"), "{err}");
    assert!(err.contains("card: nowhere/none.toml"), "{err}");
}
