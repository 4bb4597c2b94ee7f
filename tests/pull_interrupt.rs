//! Ctrl-C during `vendoras pull`: in-flight downloads stop promptly, nothing from the
//! run is left behind, and the exit status is 130.

mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const SIZE: u64 = 64 * 1024 * 1024;
const RATE: u64 = 2 * 1024 * 1024; // bytes per second through the proxy: ~32 s for SIZE

#[test]
fn ctrl_c_during_a_pull_exits_130_and_leaves_no_partial_files() {
    let registry = Registry::start();
    let src = tempfile::tempdir().unwrap();
    write_random_file(&src.path().join("large.bin"), SIZE, 7);
    fs::write(src.path().join("small.txt"), "small\n").unwrap();
    let reference = registry.reference("slow", "v1");
    run(oras()
        .current_dir(src.path())
        .arg("push")
        .args(registry.access_flags())
        .arg(&reference)
        .args(["large.bin", "small.txt"]))
    .ok();
    drop(src);

    let proxy = ThrottleProxy::start_with_lifetime(registry.addr(), RATE, Duration::from_secs(120));
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("unrelated.txt"), "was here before\n").unwrap();

    // Output goes to files outside the work dir, which must stay untouched.
    let log_dir = tempfile::tempdir().unwrap();
    let (stderr_path, stdout_path) = (log_dir.path().join("stderr"), log_dir.path().join("stdout"));
    let mut child = vendoras()
        .current_dir(work.path())
        .args(["pull", "--plain-http", "-o", "out"])
        .arg(format!("{}/slow:v1", proxy.host()))
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("starting vendoras");
    let logs = || {
        format!(
            "--- stdout:\n{}\n--- stderr:\n{}",
            fs::read_to_string(&stdout_path).unwrap_or_default(),
            fs::read_to_string(&stderr_path).unwrap_or_default()
        )
    };

    // Wait until the download is clearly under way.
    if !proxy.wait_forwarded(2 * 1024 * 1024, Duration::from_secs(60)) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the pull did not start downloading within 60 s\n{}", logs());
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the pull finished before it could be interrupted (proxy too fast?)\n{}",
        logs()
    );

    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .stdin(Stdio::null())
        .status()
        .expect("running kill");
    assert!(kill.success());
    let status = wait_timeout(&mut child, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("vendoras did not exit within 15 s of SIGINT\n{}", logs()));
    let took = sent.elapsed();
    let forwarded_at_exit = proxy.forwarded();

    assert_eq!(
        status.code(),
        Some(130),
        "exit status after SIGINT must be 130, got {status}\n{}",
        logs()
    );
    assert!(
        took < Duration::from_secs(5),
        "vendoras took {took:?} to stop after SIGINT (should be prompt)\n{}",
        logs()
    );
    assert!(
        forwarded_at_exit < SIZE,
        "the whole artifact was downloaded despite the interrupt"
    );

    // In-flight downloads stopped: the proxy sees no more traffic.
    std::thread::sleep(Duration::from_millis(1500));
    let later = proxy.forwarded();
    assert!(
        later - forwarded_at_exit < 256 * 1024,
        "downloads went on after vendoras exited ({} more bytes)",
        later - forwarded_at_exit
    );

    let tree = tree_snapshot(work.path());
    let expected: Tree = [
        ("out".to_string(), Entry::Dir),
        (
            "out/unrelated.txt".to_string(),
            tree_snapshot(&out)["unrelated.txt"].clone(),
        ),
    ]
    .into_iter()
    .collect();
    assert_same_tree(
        "after Ctrl-C the work dir holds only what was there before",
        "expected",
        &expected,
        "actual",
        &tree,
    );
    assert_eq!(
        fs::read_to_string(out.join("unrelated.txt")).unwrap(),
        "was here before\n"
    );
    drop(proxy);
    drop(registry);
}
