//! Runs tshark over a pcap file, for cross-checks against Wireshark's
//! dissectors. Tests skip (with a printed reason) when tshark is missing.

use std::path::Path;
use std::process::Command;

/// True when a `tshark` binary is on PATH; otherwise prints why the calling
/// test is skipped.
pub fn available(test: &str) -> bool {
    match Command::new("tshark").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!("{test}: skipped: tshark is not on PATH (install the tshark package)");
            false
        }
    }
}

/// Runs `tshark -r FILE ARGS...` and returns its standard output; panics with
/// tshark's stderr if it fails.
pub fn run(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark prints UTF-8")
}

/// `-T fields` output: one row per packet, one column per `fields` entry
/// (tab-separated; repeated values comma-separated).
pub fn fields(file: &Path, extra: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut args: Vec<&str> = extra.to_vec();
    args.extend_from_slice(&["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]);
    for f in fields {
        args.push("-e");
        args.push(f);
    }
    run(file, &args)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
