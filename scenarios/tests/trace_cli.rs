//! `imeitrack trace …` end to end on files: import, decode, export, error reporting.

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

#[test]
fn import_decode_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    // A scriptor log (pcsc-tools output format).
    std::fs::write(
        p("log.txt"),
        "Using T=0 protocol\n> 80 12 00 00 0B\n< D0 09 81 03 01 26 01 82 02 81 82 90 00 : Normal processing.\n",
    )
    .unwrap();
    let (rc, _, err) = imeitrack(&["trace", "import", &p("log.txt"), "--out", &p("t.apdu")]);
    assert_eq!(rc, 0, "{err}");
    let text = std::fs::read_to_string(p("t.apdu")).unwrap();
    assert!(text.starts_with("#!imeitrack-trace v1\n"), "{text}");
    assert!(
        text.contains("80 12 00 00 0B : D009810301260182028182 : 90 00  # FETCH"),
        "{text}"
    );

    let (rc, out, _) = imeitrack(&["trace", "decode", &p("t.apdu")]);
    assert_eq!(rc, 0);
    assert!(out.starts_with("#1 FETCH Le=11 => 90 00"), "{out}");
    assert!(out.contains("type=26 qual=01"), "{out}");

    let (rc, _, err) = imeitrack(&["trace", "export", &p("t.apdu"), "--pcap", &p("t.pcap")]);
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("1 frame(s)"), "{err}");
    let (rc, out, _) = imeitrack(&["trace", "decode", &p("t.pcap")]);
    assert_eq!(rc, 0);
    assert!(out.contains("PROVIDE LOCAL INFORMATION (IMEI)"), "{out}");
}

#[test]
fn errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.apdu");
    std::fs::write(
        &f,
        "#!imeitrack-trace v1\n# card: x\n80 12 00 00 0B : D0 0 : 90 00\n",
    )
    .unwrap();
    let (rc, _, err) = imeitrack(&["trace", "decode", f.to_str().unwrap()]);
    assert_eq!(rc, 2);
    assert_eq!(
        err.trim(),
        format!(
            "error: {}:3:21: odd number of hex digits in \"0\" (two digits per byte)",
            f.display()
        )
    );
    let (rc, _, err) = imeitrack(&["trace", "replay", f.to_str().unwrap(), "--card", "c.toml"]);
    assert_eq!(rc, 2);
    assert!(err.contains("error:"), "{err}");
}
