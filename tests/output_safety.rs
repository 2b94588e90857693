//! Output files never harm an input: `-o` or `--html` naming an input capture
//! (directly, through a symlink or a hard link, or as redirected standard
//! input), or naming the other output, is refused before any work with exit
//! code 2 and one stderr line, every input left byte-identical and no file
//! created; a normal output is written whole, with no temporary file left.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// A tempdir holding copies of the healthy pair: (dir, a, b).
fn copies() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("vps.pcap");
    let b = dir.path().join("laptop.pcap");
    std::fs::copy(testdata("healthy/vps.pcap"), &a).unwrap();
    std::fs::copy(testdata("healthy/laptop.pcap"), &b).unwrap();
    (dir, a, b)
}

fn wgtrace() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("wgtrace"));
    c.env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("WGTRACE_SHARDS");
    c
}

fn listing(dir: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    v.sort();
    v
}

/// Snapshot of a directory tree: every entry's path and bytes (symlinks as their target).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for name in listing(dir) {
        let p = dir.join(&name);
        if let Ok(t) = std::fs::read_link(&p) {
            out.push((p, t.into_os_string().into_encoded_bytes()));
        } else if p.is_dir() {
            out.push((p.clone(), Vec::new()));
            out.extend(snapshot(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// Runs `cmd` and expects exactly `line` on stderr, exit code 2, nothing on
/// stdout, and `dir` exactly as it was (same files, same bytes).
fn refused(mut cmd: Command, line: &str, dir: &Path) {
    let before = snapshot(dir);
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr, format!("wgtrace: {line}\n"));
    assert!(o.stdout.is_empty(), "did work: {}", o.stdout.len());
    assert_eq!(snapshot(dir), before, "the directory changed");
}

fn into_input(out: &Path, input: &Path) -> String {
    format!(
        "refusing to write {}: it is the input capture {}",
        out.display(),
        input.display()
    )
}

#[test]
fn output_onto_input_a_or_b_is_refused() {
    let (dir, a, b) = copies();
    for target in [&a, &b] {
        let mut cmd = wgtrace();
        cmd.arg("analyze").arg(&a).arg(&b).arg("-o").arg(target);
        refused(cmd, &into_input(target, target), dir.path());
    }
    // One capture alone, and a relative path to it.
    let mut cmd = wgtrace();
    cmd.current_dir(dir.path())
        .args(["analyze", "vps.pcap", "-f", "json", "-o", "./vps.pcap"]);
    refused(
        cmd,
        &into_input(Path::new("./vps.pcap"), Path::new("vps.pcap")),
        dir.path(),
    );
}

#[cfg(unix)]
#[test]
fn output_through_a_symlink_or_hard_link_to_an_input_is_refused() {
    let (dir, a, b) = copies();
    let sym = dir.path().join("link.pcap");
    std::os::unix::fs::symlink(&b, &sym).unwrap();
    let hard = dir.path().join("hard.txt");
    std::fs::hard_link(&a, &hard).unwrap();
    let mut cmd = wgtrace();
    cmd.arg("analyze").arg(&a).arg(&b).arg("-o").arg(&sym);
    refused(cmd, &into_input(&sym, &b), dir.path());
    let mut cmd = wgtrace();
    cmd.arg("analyze").arg(&a).arg(&b).arg("--html").arg(&hard);
    refused(cmd, &into_input(&hard, &a), dir.path());
    // The input given through the symlink, the output by its real name.
    let mut cmd = wgtrace();
    cmd.arg("analyze").arg(&a).arg(&sym).arg("-o").arg(&b);
    refused(cmd, &into_input(&b, &sym), dir.path());
}

#[test]
fn html_onto_an_input_is_refused() {
    let (dir, a, b) = copies();
    let report = dir.path().join("report.json");
    let mut cmd = wgtrace();
    cmd.arg("analyze")
        .arg(&a)
        .arg(&b)
        .args(["-f", "json", "-o"])
        .arg(&report)
        .arg("--html")
        .arg(&a);
    refused(cmd, &into_input(&a, &a), dir.path());
}

#[test]
fn output_and_html_naming_one_file_is_refused() {
    let (dir, a, b) = copies();
    let out = dir.path().join("report.html");
    let mut cmd = wgtrace();
    cmd.arg("analyze")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&out)
        .arg("--html")
        .arg(dir.path().join(".").join("report.html"));
    let line = format!(
        "refusing to write {}: it is also the other output {}",
        dir.path().join(".").join("report.html").display(),
        out.display()
    );
    refused(cmd, &line, dir.path());
}

#[cfg(unix)]
#[test]
fn output_onto_the_file_behind_standard_input_is_refused() {
    let (dir, a, _) = copies();
    // A real redirection (`- < a.pcap`), not a pipe fed by the test.
    let mut cmd = wgtrace();
    cmd.args(["analyze", "-", "-o"])
        .arg(&a)
        .stdin(std::fs::File::open(&a).unwrap());
    refused(cmd, &into_input(&a, Path::new("-")), dir.path());
}

#[test]
fn a_normal_output_is_written_whole_and_leaves_no_temporary_file() {
    let (dir, a, b) = copies();
    let table = dir.path().join("report.txt");
    let html = dir.path().join("report.html");
    // An old report is replaced, and keeps its permissions.
    std::fs::write(&table, "old report\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&table, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let o = wgtrace()
        .arg("analyze")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&table)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    let on_stdout = wgtrace().arg("analyze").arg(&a).arg(&b).output().unwrap();
    assert_eq!(on_stdout.status.code(), Some(0));
    assert_eq!(std::fs::read(&table).unwrap(), on_stdout.stdout);
    let page = wgtrace()
        .arg("analyze")
        .arg(&a)
        .arg(&b)
        .args(["-f", "html"])
        .output()
        .unwrap();
    assert_eq!(std::fs::read(&html).unwrap(), page.stdout);
    assert!(page.stdout.starts_with(b"<!DOCTYPE html>"));
    assert_eq!(
        listing(dir.path()),
        ["laptop.pcap", "report.html", "report.txt", "vps.pcap"]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&table).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[cfg(unix)]
#[test]
fn output_through_a_symlink_to_a_report_replaces_the_report() {
    let (dir, a, b) = copies();
    let real = dir.path().join("real.json");
    std::fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = wgtrace()
        .arg("analyze")
        .arg(&a)
        .arg(&b)
        .args(["-f", "json", "-o"])
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
    assert_eq!(json["schema"], "wgtrace.analyze/3");
    assert_eq!(
        listing(dir.path()),
        ["laptop.pcap", "link.json", "real.json", "vps.pcap"]
    );
}

/// Two incidents in a tempdir, and a CSV manifest of them.
fn incidents() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for s in ["healthy", "wrong-key"] {
        std::fs::create_dir(dir.path().join(s)).unwrap();
        for end in ["vps.pcap", "laptop.pcap"] {
            std::fs::copy(
                testdata(&format!("{s}/{end}")),
                dir.path().join(s).join(end),
            )
            .unwrap();
        }
    }
    let manifest = dir.path().join("incidents.csv");
    std::fs::write(
        &manifest,
        "id,a,b\nh,healthy/vps.pcap,healthy/laptop.pcap\nw,wrong-key/vps.pcap,wrong-key/laptop.pcap\n",
    )
    .unwrap();
    (dir, manifest)
}

#[test]
fn batch_output_onto_a_capture_or_the_manifest_is_refused() {
    let (dir, manifest) = incidents();
    let capture = dir.path().join("wrong-key").join("laptop.pcap");
    for resume in [false, true] {
        let mut cmd = wgtrace();
        cmd.arg("batch").arg(&manifest).arg("-o").arg(&capture);
        if resume {
            cmd.arg("--resume");
        }
        refused(
            cmd,
            &into_input(&capture, &capture),
            &dir.path().join("wrong-key"),
        );
        let mut cmd = wgtrace();
        cmd.arg("batch").arg(&manifest).arg("-o").arg(&manifest);
        if resume {
            cmd.arg("--resume");
        }
        refused(cmd, &into_input(&manifest, &manifest), dir.path());
    }
    // Directory input: the captures are found by listing.
    let mut cmd = wgtrace();
    let cap = dir.path().join("healthy").join("vps.pcap");
    cmd.arg("batch").arg(dir.path()).arg("-o").arg(&cap);
    refused(cmd, &into_input(&cap, &cap), dir.path());
}

#[test]
fn batch_output_is_written_whole_and_leaves_no_temporary_file() {
    let (dir, manifest) = incidents();
    let out = dir.path().join("results.jsonl");
    std::fs::write(&out, "{\"id\":\"stale\"}\n").unwrap();
    let o = wgtrace()
        .arg("batch")
        .arg(&manifest)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "wrong-key has problems");
    let on_stdout = wgtrace().arg("batch").arg(&manifest).output().unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), on_stdout.stdout);
    let ids: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids, ["\"h\"", "\"w\""]);
    assert_eq!(
        listing(dir.path()),
        ["healthy", "incidents.csv", "results.jsonl", "wrong-key"]
    );
}
