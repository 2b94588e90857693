//! Golden outputs: the table, Markdown and JSON reports of every recorded
//! pair (and each capture alone), pinned with insta. They were read by eye
//! against each scenario's truth.json when taken; a change in wording or
//! numbers shows up here as a diff to review (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test --test golden` then `git diff`).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::PathBuf;
use wgtrace::pipeline::analyze_files;

/// Scenario folders and their captures, by relative path (so reports hold
/// the same paths on every machine).
fn inputs() -> Vec<(String, Vec<PathBuf>)> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir("testdata")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("truth.json").exists())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let mut caps: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.to_string_lossy();
                n.ends_with(".pcap") || n.ends_with(".pcapng")
            })
            .collect();
        caps.sort();
        for c in &caps {
            let stem = c.file_name().unwrap().to_string_lossy().into_owned();
            out.push((format!("{name}--{stem}"), vec![c.clone()]));
        }
        // The pairs the truth names (a server with several peers), else the
        // two ends: the first two captures of the NICs (a wg0 capture is an
        // inner view, analysed alone above).
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("truth.json")).unwrap()).unwrap();
        if let Some(pairs) = truth["pairs"].as_object() {
            for (pair, v) in pairs {
                let files: Vec<PathBuf> = v["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| d.join(f.as_str().unwrap()))
                    .collect();
                out.push((format!("{name}--{pair}"), files));
            }
            continue;
        }
        let nics: Vec<PathBuf> = caps
            .iter()
            .filter(|c| !c.to_string_lossy().contains("wg0"))
            .take(2)
            .cloned()
            .collect();
        if nics.len() == 2 {
            out.push((format!("{name}--pair"), nics));
        }
    }
    out
}

#[test]
fn reports_of_every_recording() {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots/golden");
    settings.bind(|| {
        for (name, paths) in inputs() {
            let r = analyze_files(&paths).unwrap().report;
            insta::assert_snapshot!(format!("{name}.table"), r.to_table(80));
            insta::assert_snapshot!(format!("{name}.md"), r.to_markdown());
            insta::assert_snapshot!(format!("{name}.json"), r.to_json());
        }
    });
}
