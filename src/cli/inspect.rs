//! `wgtrace inspect FILE...`

use super::args::{InspectArgs, InspectFormat};
use super::output;
use wgtrace::flow::facts;
use wgtrace::report::inspect::{CaptureEntry, InspectReport};

/// Runs `inspect`; returns the exit code.
pub fn run(args: &InspectArgs, opts: &wgtrace::pipeline::Options, _color: bool) -> u8 {
    let mut failed = false;
    let mut entries = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let decoded = wgtrace::pipeline::decode_file(
            path,
            opts.progress.as_ref(),
            rayon::current_num_threads(),
        );
        match decoded {
            Ok(cap) => {
                if let Some(d) = &cap.info.damage {
                    failed = true;
                    output::error(&format!(
                        "{}: {d} (the report covers the {} packets before it)",
                        cap.info.damaged_part().unwrap_or(path).display(),
                        cap.info.frames
                    ));
                }
                entries.push(CaptureEntry::Read(Box::new(facts(&cap))));
            }
            Err(e) => {
                failed = true;
                output::error(&e.to_string());
                entries.push(CaptureEntry::Failed {
                    path: path.display().to_string(),
                    error: e.error.to_string(),
                });
            }
        }
    }
    let mut report = InspectReport::new(entries);
    if let Some(an) = &opts.anonymize {
        an.apply(&mut report);
    }
    let text = match args.format {
        InspectFormat::Table => report.to_table(output::table_width()),
        InspectFormat::Json => report.to_json() + "\n",
    };
    if let Err(e) = output::stdout(&text) {
        output::error(&format!("cannot write output: {e}"));
        return super::ERROR;
    }
    if failed {
        super::ERROR
    } else {
        super::OK
    }
}
