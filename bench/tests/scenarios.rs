//! `compare --scenario` refuses bad selections before it builds or starts anything, with a message
//! naming the problem and a non-zero exit. (No server is started here: the runs themselves are
//! covered by the unit tests of `scenario::*`; README "Performance" says how to run them for real.)

use std::process::Command;

fn compare(scenario: &str) -> (bool, String) {
    let scenarios_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../loadgen/scenarios");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-bench"))
        .args(["compare", "--no-build", "--runs", "1", "--duration", "1"])
        .args(["--scenario", scenario, "--scenarios-dir", scenarios_dir])
        .args(["--results-dir", env!("CARGO_TARGET_TMPDIR")])
        .output()
        .expect("switchboard-bench runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn unknown_scenarios_are_refused() {
    let (ok, stderr) = compare("chat,nope");
    assert!(!ok);
    assert!(stderr.contains("unknown scenario `nope`"), "{stderr}");
}

#[test]
fn echo_does_not_mix_with_scenarios() {
    let (ok, stderr) = compare("chat,echo");
    assert!(!ok);
    assert!(stderr.contains("`echo` runs on its own"), "{stderr}");
}

#[test]
fn several_connection_counts_are_refused_for_scenarios() {
    let scenarios_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../loadgen/scenarios");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-bench"))
        .args(["compare", "--no-build", "--scenario", "chat"])
        .args(["--connections", "10,20", "--scenarios-dir", scenarios_dir])
        .output()
        .expect("switchboard-bench runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--connections takes one count"));
}
