//! Where incidents come from: a directory with one folder per incident, or a
//! manifest file ([`super::manifest`]).

use super::{manifest, Error, Incident};
use std::fs;
use std::path::{Path, PathBuf};

/// Names of the files a directory incident is made of (case-insensitive).
const CAPTURE_SUFFIXES: [&str; 6] = [
    ".pcap",
    ".pcapng",
    ".cap",
    ".pcap.gz",
    ".pcapng.gz",
    ".cap.gz",
];

fn is_capture(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase());
    name.is_some_and(|n| CAPTURE_SUFFIXES.iter().any(|s| n.ends_with(s)))
}

/// Reads the incidents of a directory or a manifest file, sorted by id
/// (byte order); two incidents with one id are an error.
pub fn incidents(source: &Path) -> Result<Vec<Incident>, Error> {
    let meta = fs::metadata(source).map_err(|e| io(source, e))?;
    let mut list = if meta.is_dir() {
        from_directory(source)?
    } else {
        manifest::read(source)?
    };
    list.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = list.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(Error::DuplicateId {
            path: source.to_path_buf(),
            id: w[0].id.clone(),
        });
    }
    Ok(list)
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Source {
        path: path.to_path_buf(),
        source,
    }
}

/// Each sub-directory holding capture files (by name) is an incident, its
/// id the directory's name, its captures sorted by name; others are skipped.
fn from_directory(dir: &Path) -> Result<Vec<Incident>, Error> {
    let read = |d: &Path| fs::read_dir(d).map_err(|e| io(d, e));
    let mut out = Vec::new();
    for entry in read(dir)?.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let mut captures: Vec<PathBuf> = read(&path)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && is_capture(p))
            .collect();
        captures.sort();
        if captures.is_empty() {
            continue;
        }
        out.push(Incident {
            id: entry.file_name().to_string_lossy().into_owned(),
            captures,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_directory_of_incident_folders() {
        let dir = tempdir("dir");
        for (inc, files) in [
            ("b", &["2.pcap", "1.pcapng.gz", "notes.txt"][..]),
            ("a", &["x.cap"][..]),
            ("empty", &["readme.md"][..]),
        ] {
            fs::create_dir_all(dir.join(inc)).expect("mkdir");
            for f in files {
                fs::write(dir.join(inc).join(f), b"").expect("write");
            }
        }
        fs::write(dir.join("stray.pcap"), b"").expect("write");
        let got = incidents(&dir).expect("reads");
        let ids: Vec<&str> = got.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(
            got[1].captures,
            vec![dir.join("b/1.pcapng.gz"), dir.join("b/2.pcap")]
        );
        let _ = fs::remove_dir_all(&dir);
    }

    pub(crate) fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "wgtrace-batch-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
