//! `--resume`: what an interrupted run already wrote.

use serde::Deserialize;
use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The part of a line `--resume` reads.
#[derive(Deserialize)]
struct Done {
    id: String,
}

/// Prepares an output file for `--resume`: drops a torn last line (an
/// interrupted write) and returns the ids already there. A file that does not
/// exist yet holds none.
pub fn resume_from(output: &Path) -> std::io::Result<HashSet<String>> {
    let text = match fs::read(output) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        fs::OpenOptions::new()
            .write(true)
            .open(output)?
            .set_len(complete as u64)?;
    }
    Ok(BufReader::new(&text[..complete])
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Done>(&l).ok())
        .map(|d| d.id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::sources::tests::tempdir;
    use super::*;

    #[test]
    fn a_torn_last_line_is_dropped() {
        let dir = tempdir("resume");
        let out = dir.join("out.jsonl");
        assert!(resume_from(&out).expect("missing is empty").is_empty());
        fs::write(&out, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"rep").expect("write");
        let done = resume_from(&out).expect("reads");
        assert_eq!(done.len(), 2);
        assert!(done.contains("a") && done.contains("b"));
        assert_eq!(
            fs::read_to_string(&out).expect("read"),
            "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
