//! `wgtrace completions SHELL` and `wgtrace man`: generated from the clap
//! definitions, written to standard output.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use assert_cmd::Command;

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("wgtrace")
        .expect("binary")
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(out.stderr.is_empty(), "{args:?} wrote to stderr");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_for_each_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        for command in ["analyze", "inspect", "batch"] {
            assert!(script.contains(command), "{shell}: no `{command}`");
        }
        assert!(script.contains("wgtrace"), "{shell}: no program name");
    }
}

#[test]
fn completions_know_the_options_of_analyze() {
    let bash = run(&["completions", "bash"]);
    for option in ["--format", "--output", "--html", "--tunnel", "--peer"] {
        assert!(bash.contains(option), "bash: no `{option}`");
    }
    assert!(bash.contains("markdown"), "bash: no format values");
}

#[test]
fn completions_need_a_known_shell() {
    Command::cargo_bin("wgtrace")
        .expect("binary")
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stdout("");
    Command::cargo_bin("wgtrace")
        .expect("binary")
        .arg("completions")
        .assert()
        .code(2);
}

#[test]
fn man_is_roff_and_documents_analyze() {
    let page = run(&["man"]);
    assert!(
        page.starts_with(".TH") || page.starts_with(".ie"),
        "not roff: {}",
        &page[..page.len().min(80)]
    );
    assert!(page.contains(".TH wgtrace 1"), "no title line");
    assert!(
        page.contains(".SH \"WGTRACE ANALYZE\""),
        "no analyze section"
    );
    // roff escapes the dashes of options: `\-\-format`.
    let plain = page.replace("\\-", "-");
    let analyze = &plain[plain.find(".SH \"WGTRACE ANALYZE\"").unwrap()..];
    let analyze = &analyze[..analyze.find(".SH \"WGTRACE BATCH\"").unwrap()];
    for option in ["--format", "--output", "--html", "--tunnel", "--peer"] {
        assert!(analyze.contains(option), "analyze section: no `{option}`");
    }
    for command in ["inspect", "batch", "completions", "man"] {
        assert!(
            plain.contains(&format!("wgtrace {command}")),
            "no `{command}`"
        );
    }
    assert!(plain.contains(".SH \"EXIT STATUS\""), "no exit status");
}

#[test]
fn man_renders_with_groff_when_present() {
    let Ok(status) = std::process::Command::new("groff")
        .arg("--version")
        .output()
    else {
        return; // no groff on this machine: nothing to check against
    };
    if !status.status.success() {
        return;
    }
    let page = run(&["man"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wgtrace.1");
    std::fs::write(&path, page).unwrap();
    let out = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.stderr.is_empty(),
        "groff warnings: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("WGTRACE ANALYZE"));
}
