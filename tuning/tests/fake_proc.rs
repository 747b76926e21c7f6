//! `switchboard tune` against a fake `/proc/sys` tree in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use switchboard_tuning::changes::{self, ChangeError};
use switchboard_tuning::check::{self, Status};
use switchboard_tuning::cli::{self, TuneArgs};
use switchboard_tuning::limits::{ProcessLimits, Rlimit};
use switchboard_tuning::shortfall::shortfalls_with_limits;
use switchboard_tuning::tree::{ProcSysTree, SysctlTree};
use switchboard_tuning::{Engine, Profile, ServerNeeds};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("switchboard-tuning-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Typical untuned kernel defaults, as `/proc/sys` shows them (tabs in multi-value files).
const UNTUNED: &[(&str, &str)] = &[
    ("fs.file-max", "9223372036854775807"),
    ("fs.nr_open", "1048576"),
    ("net.core.somaxconn", "4096"),
    ("net.ipv4.tcp_max_syn_backlog", "1024"),
    ("net.ipv4.ip_local_port_range", "32768\t60999"),
    ("net.ipv4.tcp_mem", "92451\t123270\t184902"),
    ("net.ipv4.tcp_rmem", "4096\t131072\t6291456"),
    ("net.ipv4.tcp_wmem", "4096\t16384\t4194304"),
    ("net.ipv4.tcp_keepalive_time", "7200"),
    ("net.ipv4.tcp_keepalive_intvl", "75"),
    ("net.ipv4.tcp_keepalive_probes", "9"),
    ("net.ipv4.tcp_fin_timeout", "60"),
    ("net.ipv4.tcp_tw_reuse", "2"),
    ("net.ipv4.tcp_max_tw_buckets", "65536"),
    ("net.ipv4.tcp_max_orphans", "65536"),
    ("net.ipv4.tcp_slow_start_after_idle", "1"),
    ("net.core.netdev_max_backlog", "1000"),
];

fn write_tree(root: &Path, values: &[(&str, &str)]) {
    for (key, value) in values {
        let path = root.join(key.replace('.', "/"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{value}\n")).unwrap();
    }
}

/// Every file under `root` with its bytes, sorted, for exact before/after comparison.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((path.clone(), std::fs::read(path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn args(root: &Path, state: &Path, extra: &[&str]) -> TuneArgs {
    #[derive(clap::Parser)]
    struct Top {
        #[command(flatten)]
        tune: TuneArgs,
    }
    let mut argv = vec!["tune".to_string()];
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.extend([
        "--proc-root".into(),
        root.display().to_string(),
        "--state-file".into(),
        state.display().to_string(),
    ]);
    Top::try_parse_from(argv).unwrap().tune
}

fn run(args: &TuneArgs) -> (ExitCode, String) {
    let mut out = Vec::new();
    let code = cli::run_with_output(args, &mut out).unwrap();
    (code, String::from_utf8(out).unwrap())
}

fn needs(connections_max: u64) -> ServerNeeds {
    ServerNeeds {
        connections_max,
        connections_per_shard_max: None,
        shards: 4,
        engine: Engine::IoUring,
        listen_backlog: 4096,
        memlock_bytes: 0,
    }
}

#[test]
fn check_fails_on_untuned_tree_and_passes_after_apply() {
    let dir = TempDir::new("check");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    let state = dir.0.join("state/saved.conf");

    let (code, text) = run(&args(&root, &state, &["check", "--profile", "c1m"]));
    assert_eq!(code, ExitCode::from(1), "{text}");
    assert!(text.contains("net.core.somaxconn"), "{text}");
    assert!(text.contains("SHORT!"), "{text}");
    assert!(text.contains("net.netfilter.nf_conntrack_max"), "{text}");
    assert!(
        text.contains("nf_conntrack not loaded"),
        "absent key explained: {text}"
    );

    let (code, text) = run(&args(&root, &state, &["apply", "--profile", "c1m"]));
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    let (code, text) = run(&args(&root, &state, &["check", "--profile", "c1m"]));
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains("result: ok"), "{text}");
}

#[test]
fn advisory_shortfalls_do_not_fail_the_check() {
    let dir = TempDir::new("advisory");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    // Meet every required c1m key, leave advisory ones untuned.
    write_tree(
        &root,
        &[
            ("fs.nr_open", "2097152"),
            ("net.core.somaxconn", "65535"),
            ("net.ipv4.tcp_mem", "786432 1048576 1572864"),
        ],
    );
    let (code, text) = run(&args(&root, &dir.0.join("s.conf"), &["check"]));
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(
        text.contains("short "),
        "advisory rows still reported: {text}"
    );
}

#[test]
fn diff_lists_only_short_keys_and_never_lowers() {
    let dir = TempDir::new("diff");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    let (code, text) = run(&args(
        &root,
        &dir.0.join("s.conf"),
        &["diff", "--profile", "c1m"],
    ));
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(text.contains("net.core.somaxconn"), "{text}");
    assert!(text.contains("4096 -> 65535"), "{text}");
    assert!(text.contains("32768 60999 -> 1024 65535"), "{text}");
    // fs.file-max is already above the profile: at-least keys are never lowered.
    assert!(!text.contains("fs.file-max"), "{text}");
}

#[test]
fn apply_then_revert_restores_the_exact_files() {
    let dir = TempDir::new("roundtrip");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    let before = snapshot(&root);
    let state = dir.0.join("var/tune-saved.conf");

    let (code, text) = run(&args(&root, &state, &["apply", "--profile", "c1m"]));
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert_ne!(snapshot(&root), before);
    assert_eq!(
        std::fs::read_to_string(root.join("net/core/somaxconn")).unwrap(),
        "65535\n"
    );
    // A second apply with another profile must keep the values saved first.
    let (code, _) = run(&args(&root, &state, &["apply", "--profile", "low-latency"]));
    assert_eq!(code, ExitCode::SUCCESS);
    let saved = changes::load(&state).unwrap().unwrap();
    let rmem = saved
        .iter()
        .find(|setting| setting.key == "net.ipv4.tcp_rmem")
        .unwrap();
    assert_eq!(rmem.value.raw(), "4096\t131072\t6291456");

    let (code, text) = run(&args(&root, &state, &["revert"]));
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert_eq!(
        snapshot(&root),
        before,
        "revert must restore every file byte for byte"
    );
    assert!(!state.exists());
    let (code, text) = run(&args(&root, &state, &["revert"]));
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(text.contains("nothing to revert"), "{text}");
}

#[test]
fn read_only_tree_refuses_apply_and_writes_nothing() {
    let dir = TempDir::new("readonly");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    let before = snapshot(&root);
    let state = dir.0.join("saved.conf");
    let tree = ProcSysTree::new(&root).read_only();

    let mut out = Vec::new();
    let code = cli::run_on_tree(&args(&root, &state, &["apply"]), &tree, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, ExitCode::from(1));
    assert!(
        text.contains("running read-only (container?): cannot apply, showing what would change"),
        "{text}"
    );
    assert!(text.contains("4096 -> 65535"), "{text}");
    assert_eq!(snapshot(&root), before);
    assert!(!state.exists(), "no state file when nothing was applied");

    let settings = Profile::C1m.settings().unwrap();
    let requirements = check::requirements(&settings, None);
    let findings = check::evaluate(&requirements, &tree);
    let planned = changes::plan(&requirements, &findings, &tree);
    assert_eq!(
        changes::apply(&planned, &tree, &state),
        Err(ChangeError::ReadOnly)
    );
    assert!(!tree.is_writable("net.core.somaxconn"));
}

#[test]
fn missing_keys_are_absent_not_errors() {
    let dir = TempDir::new("absent");
    let root = dir.0.join("sys");
    write_tree(&root, &[("net.core.somaxconn", "65535")]);
    let tree = ProcSysTree::new(&root);
    let settings = Profile::LowLatency.settings().unwrap();
    let findings = check::evaluate(&check::requirements(&settings, None), &tree);
    let busy = findings
        .iter()
        .find(|finding| finding.key == "net.core.busy_poll")
        .unwrap();
    assert!(matches!(busy.status, Status::Absent(_)));
    assert_eq!(busy.current, None);
    assert!(!check::any_failing(&findings));
    let (code, text) = run(&args(
        &root,
        &dir.0.join("s.conf"),
        &["diff", "--profile", "low-latency"],
    ));
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(text, "nothing to change\n");
}

#[test]
fn connections_raise_required_minimums() {
    let dir = TempDir::new("needs");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    write_tree(
        &root,
        &[
            ("fs.file-max", "500000"),
            ("net.netfilter.nf_conntrack_max", "262144"),
        ],
    );
    let (code, text) = run(&args(
        &root,
        &dir.0.join("s.conf"),
        &["check", "--connections", "3000000", "--shards", "4"],
    ));
    assert_eq!(code, ExitCode::from(1));
    assert!(
        text.contains(">= 4194304"),
        "profile value kept when larger: {text}"
    );
    assert!(
        text.contains(">= 3000000"),
        "conntrack raised to the connection count: {text}"
    );
    assert!(text.contains("RLIMIT_NOFILE"), "{text}");
}

#[test]
fn required_key_fails_only_below_the_server_need_when_connections_are_known() {
    let dir = TempDir::new("need");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    // Every required c1m key meets the needs of 10,000 connections but fs.file-max misses the profile.
    write_tree(
        &root,
        &[
            ("fs.file-max", "200000"),
            ("net.ipv4.tcp_mem", "786432 1048576 1572864"),
            ("net.core.somaxconn", "4096"),
        ],
    );
    let extra = [
        "check",
        "--connections",
        "10000",
        "--shards",
        "1",
        "--proc-root",
    ];
    let mut argv: Vec<&str> = extra[..5].to_vec();
    argv.push("--listen-backlog");
    argv.push("1024");
    let findings_text = run(&args(&root, &dir.0.join("s.conf"), &argv)).1;
    assert!(findings_text.contains("(need >= 75536)"), "{findings_text}");
    let fs_line = findings_text
        .lines()
        .find(|line| line.starts_with("fs.file-max"))
        .unwrap();
    assert!(fs_line.contains("short"), "{fs_line}");
    assert!(!fs_line.contains("SHORT!"), "{fs_line}");
}

#[test]
fn startup_shortfalls_are_one_line_and_say_how_to_fix() {
    let dir = TempDir::new("startup");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    let limits = ProcessLimits {
        nofile: Rlimit {
            soft: Some(20_000),
            hard: Some(20_000),
        },
        memlock: Rlimit {
            soft: Some(8 << 20),
            hard: Some(8 << 20),
        },
    };
    let io_uring = ServerNeeds {
        memlock_bytes: 16 << 20,
        ..needs(1_000_000)
    };
    let shortfalls = shortfalls_with_limits(&io_uring, &root, Some(&limits));
    let keys: Vec<&str> = shortfalls.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["RLIMIT_NOFILE", "RLIMIT_MEMLOCK"], "{shortfalls:#?}");
    for shortfall in &shortfalls {
        let message = shortfall.message();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("raise it with"), "{message}");
    }
    let nofile = shortfalls[0].message();
    assert!(
        nofile.contains("io_uring engine is not limited by it"),
        "{nofile}"
    );
    assert!(nofile.contains("epoll"), "{nofile}");

    // Within one shard's share, io_uring is fine at 20,000 fds; epoll is not.
    let small = needs(60_000);
    assert!(shortfalls_with_limits(&small, &root, Some(&limits)).is_empty());
    let epoll = ServerNeeds {
        engine: Engine::Epoll,
        ..small
    };
    let shortfalls = shortfalls_with_limits(&epoll, &root, Some(&limits));
    assert_eq!(shortfalls.len(), 1, "{shortfalls:#?}");
    assert!(shortfalls[0].message().contains("EMFILE"));

    // io_uring switched off by sysctl (Linux 6.6+) is a shortfall for the io_uring engine only.
    write_tree(&root, &[("kernel.io_uring_disabled", "2")]);
    let shortfalls = shortfalls_with_limits(&small, &root, Some(&limits));
    assert_eq!(shortfalls.len(), 1, "{shortfalls:#?}");
    assert!(
        shortfalls[0].message().contains("falls back to epoll"),
        "{}",
        shortfalls[0]
    );
    assert!(shortfalls_with_limits(&epoll, &root, Some(&limits))
        .iter()
        .all(|s| s.key != "kernel.io_uring_disabled"));

    // The real entry point reads this process's limits and never panics on a sparse tree.
    let _ = switchboard_tuning::startup_shortfalls(&small, &root);
}

#[test]
fn shipped_profile_values_reach_the_tree_verbatim() {
    let dir = TempDir::new("verbatim");
    let root = dir.0.join("sys");
    write_tree(&root, UNTUNED);
    let (code, _) = run(&args(
        &root,
        &dir.0.join("s.conf"),
        &["apply", "--profile", "c1m"],
    ));
    assert_eq!(code, ExitCode::SUCCESS);
    let tree = ProcSysTree::new(&root);
    assert_eq!(
        tree.read("net.ipv4.tcp_mem").unwrap().unwrap(),
        "786432 1048576 1572864"
    );
    assert_eq!(
        tree.read("net.ipv4.ip_local_port_range").unwrap().unwrap(),
        "1024 65535"
    );
}

#[test]
fn check_of_the_real_proc_sys_runs_without_error() {
    // Read-only use of the host's tree: the verdict depends on the host, the absence of errors does not.
    let dir = TempDir::new("real");
    let args = args(
        Path::new("/proc/sys"),
        &dir.0.join("s.conf"),
        &["check", "--profile", "throughput"],
    );
    let (code, text) = run(&args);
    assert!(
        code == ExitCode::SUCCESS || code == ExitCode::from(1),
        "{text}"
    );
    assert!(text.contains("net.core.rmem_max"), "{text}");
}
