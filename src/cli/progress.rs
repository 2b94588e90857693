//! Progress bars on standard error while big captures are read (only on a terminal).

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wgtrace::pipeline::Progress;

/// Captures smaller than this are read too fast for a bar to help.
const MIN_BYTES: u64 = 64 << 20;

/// Bars for the captures of this run, or `None` when standard error is not a terminal.
pub fn bars() -> Option<Progress> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let multi = MultiProgress::new();
    let bars: Mutex<HashMap<PathBuf, ProgressBar>> = Mutex::new(HashMap::new());
    let style = ProgressStyle::with_template(
        "{prefix:>20} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    Some(Progress(Arc::new(
        move |path: &Path, done: u64, total: Option<u64>| {
            let Some(total) = total.filter(|t| *t >= MIN_BYTES) else {
                return;
            };
            let Ok(mut bars) = bars.lock() else {
                return;
            };
            let bar = bars.entry(path.to_path_buf()).or_insert_with(|| {
                let b = multi.add(ProgressBar::new(total));
                b.set_style(style.clone());
                b.set_prefix(path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ));
                b
            });
            bar.set_position(done);
            if done >= total {
                bar.finish_and_clear();
            }
        },
    )))
}
