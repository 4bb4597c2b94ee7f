//! The corpus of real-world `vendir.yml` shapes (tests/corpus/README.md): every file
//! synced by vendir v0.44.0 and by vendoras against loopback stand-ins of its
//! sources, compared by outcome, tree, modes and lock bytes.
//!
//! `VENDORAS_CORPUS_JOBS` (default 2) files run at a time; `VENDORAS_CORPUS_ONLY=07,23`
//! runs those files only; `VENDORAS_CORPUS_KEEP=1` keeps each file's work dirs and
//! sources and prints where.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use support::corpus::*;

#[test]
fn every_corpus_file_syncs_as_vendir_does() {
    let jobs: usize = std::env::var("VENDORAS_CORPUS_JOBS")
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("VENDORAS_CORPUS_JOBS={v:?} is not a number"))
        })
        .unwrap_or(2)
        .max(1);
    let keep = std::env::var("VENDORAS_CORPUS_KEEP").is_ok_and(|v| v == "1");
    let rows = read_index();
    let files_on_disk = std::fs::read_dir(corpus_dir().join("files"))
        .unwrap()
        .count();
    assert_eq!(
        files_on_disk,
        rows.len(),
        "tests/corpus/files and index.tsv list different files"
    );
    let rows: Vec<Row> = match std::env::var("VENDORAS_CORPUS_ONLY") {
        Ok(only) if !only.trim().is_empty() => {
            let want: Vec<&str> = only.split(',').map(str::trim).collect();
            for w in &want {
                assert!(
                    rows.iter().any(|r| r.number() == *w),
                    "VENDORAS_CORPUS_ONLY: no corpus file {w}"
                );
            }
            rows.into_iter()
                .filter(|r| want.contains(&r.number()))
                .collect()
        }
        _ => rows,
    };
    let started = Instant::now();
    let queue = Arc::new(Mutex::new(rows.clone()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..jobs.min(rows.len()))
        .map(|_| {
            let (queue, results) = (queue.clone(), results.clone());
            std::thread::spawn(move || loop {
                let Some(row) = queue.lock().unwrap().pop() else {
                    break;
                };
                let run = std::panic::catch_unwind(|| run_file(&row, keep)).unwrap_or_else(|e| {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    FileRun {
                        verdict: Verdict::Fails(format!("the runner panicked: {msg}")),
                        kept: None,
                    }
                });
                results.lock().unwrap().push((row.file.clone(), run));
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut same, mut deliberate, mut failing) = (0, 0, Vec::new());
    for (file, run) in &results {
        if let Some(dir) = &run.kept {
            eprintln!("{file}: kept in {}", dir.display());
        }
        match &run.verdict {
            Verdict::Same => same += 1,
            Verdict::Deliberate(_) => deliberate += 1,
            Verdict::Fails(why) => failing.push(format!("  {file}: {why}")),
        }
    }
    eprintln!(
        "corpus: {} files in {:.0?} with {jobs} jobs: {same} same, {deliberate} deliberate, {} failing",
        results.len(),
        started.elapsed(),
        failing.len()
    );
    assert!(
        failing.is_empty(),
        "{} corpus files differ:\n{}",
        failing.len(),
        failing.join("\n")
    );
}

/// Not a test: `make bench`'s corpus row (scripts/bench/corpus.sh runs it with
/// `--ignored` on a release build). Every corpus file, one at a time, synced by
/// vendir and by vendoras cold, warm and `--locked`; prints the sums and their
/// ratios. Asserts nothing about time.
#[test]
#[ignore = "a bench: scripts/bench/corpus.sh"]
fn corpus_bench() {
    let rows = read_index();
    let (mut sum, mut counted, mut skipped) = ([0f64; 4], 0, Vec::new());
    for row in &rows {
        match time_file(row) {
            Ok(t) => {
                for (s, v) in sum.iter_mut().zip([t.vendir, t.cold, t.warm, t.locked]) {
                    *s += v;
                }
                counted += 1;
            }
            Err(why) => skipped.push(format!("{}: {why}", row.number())),
        }
    }
    let [vendir, cold, warm, locked] = sum;
    println!(
        "corpus: {counted} of {} real vendir.yml shapes synced by both tools, one at a time \
         (sums of seconds)",
        rows.len()
    );
    println!("  vendir sync                 {vendir:7.2} s");
    println!(
        "  vendoras sync, cold cache   {cold:7.2} s  = {:.2}x vendir",
        cold / vendir
    );
    println!(
        "  vendoras re-sync (warm)     {warm:7.2} s  = {:.2}x vendir, {:.2}x cold",
        warm / vendir,
        warm / cold
    );
    println!(
        "  vendoras --locked (warm)    {locked:7.2} s  = {:.2}x vendir, {:.2}x cold",
        locked / vendir,
        locked / cold
    );
    if !skipped.is_empty() {
        println!(
            "  not counted (a sync fails, as tests/corpus.rs expects): {}",
            skipped.join("; ")
        );
    }
}
