//! Manifests: CSV (`id,capture[,capture...]`, read with the `csv` crate:
//! quoting, a header row `id,...`, `#` comments, blank lines) or JSON lines
//! (`{"id": "...", "captures": ["...", ...]}`, `id` a string or a number).
//! A file whose first line that is not blank or a comment starts with `{` is
//! JSON lines. Relative capture paths are relative to the manifest's directory.

use super::{Error, Incident};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One JSON line.
#[derive(Deserialize)]
struct JsonIncident {
    id: JsonId,
    captures: Vec<String>,
}

/// An id in JSON: a string, or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonId {
    Text(String),
    Number(u64),
}

/// Reads the incidents of a manifest, in file order.
pub fn read(file: &Path) -> Result<Vec<Incident>, Error> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Source {
        path: file.to_path_buf(),
        source,
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let json = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with('{'));
    if json {
        json_lines(file, base, &text)
    } else {
        csv_lines(file, base, &text)
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p.trim());
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

fn json_lines(file: &Path, base: &Path, text: &str) -> Result<Vec<Incident>, Error> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |message: String| Error::Manifest {
            path: file.to_path_buf(),
            line: n as u64 + 1,
            message,
        };
        let inc: JsonIncident = serde_json::from_str(line).map_err(|e| {
            at(format!(
                "expected {{\"id\": \"...\", \"captures\": [\"...\"]}}: {e}"
            ))
        })?;
        if inc.captures.is_empty() {
            return Err(at("\"captures\" is empty".to_string()));
        }
        out.push(Incident {
            id: match inc.id {
                JsonId::Text(s) => s,
                JsonId::Number(n) => n.to_string(),
            },
            captures: inc.captures.iter().map(|c| resolve(base, c)).collect(),
        });
    }
    Ok(out)
}

fn csv_lines(file: &Path, base: &Path, text: &str) -> Result<Vec<Incident>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = |r: Option<&csv::Position>| r.map_or(n as u64 + 1, csv::Position::line);
        let record = record.map_err(|e| Error::Manifest {
            path: file.to_path_buf(),
            line: line(e.position()),
            message: e.to_string(),
        })?;
        let id = record.get(0).unwrap_or_default().to_string();
        if n == 0 && id.eq_ignore_ascii_case("id") {
            continue; // header row
        }
        let captures: Vec<PathBuf> = record
            .iter()
            .skip(1)
            .filter(|f| !f.is_empty())
            .map(|f| resolve(base, f))
            .collect();
        if id.is_empty() || captures.is_empty() {
            return Err(Error::Manifest {
                path: file.to_path_buf(),
                line: line(record.position()),
                message: "expected `id,capture[,capture...]`".to_string(),
            });
        }
        out.push(Incident { id, captures });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::incidents;
    use super::super::sources::tests::tempdir;
    use super::*;

    #[test]
    fn csv_with_header_comments_blank_lines_and_quotes() {
        let dir = tempdir("csv");
        let csv = dir.join("m.csv");
        std::fs::write(
            &csv,
            "id,a,b\nx1, a.pcap ,/abs/b.pcap\n\n# note\nx0,c.pcap\n\"q,1\",\"with, comma.pcap\"\n",
        )
        .expect("write");
        let got = incidents(&csv).expect("parses");
        let ids: Vec<&str> = got.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["q,1", "x0", "x1"]);
        assert_eq!(got[0].captures, vec![dir.join("with, comma.pcap")]);
        assert_eq!(
            got[2].captures,
            vec![dir.join("a.pcap"), PathBuf::from("/abs/b.pcap")]
        );
        std::fs::write(&csv, "x1,a.pcap\nlonely\n").expect("write");
        let e = incidents(&csv).expect_err("no capture").to_string();
        assert!(
            e.ends_with("line 2: expected `id,capture[,capture...]`"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn json_lines_with_string_or_number_ids() {
        let dir = tempdir("jsonl");
        let jl = dir.join("m.jsonl");
        std::fs::write(
            &jl,
            "# incidents\n{\"id\":\"q\",\"captures\":[\"a.pcap\",\"/b.pcap\"]}\n{\"id\":7,\"captures\":[\"c.pcap\"]}\n",
        )
        .expect("write");
        let got = incidents(&jl).expect("parses");
        assert_eq!(got[0].id, "7");
        assert_eq!(
            got[1].captures,
            vec![dir.join("a.pcap"), PathBuf::from("/b.pcap")]
        );
        std::fs::write(
            &jl,
            "{\"id\":\"q\",\"captures\":[\"a.pcap\"]}\n{\"id\":\"q\",\"captures\":[\"b.pcap\"]}\n",
        )
        .expect("write");
        assert!(incidents(&jl)
            .expect_err("duplicate id")
            .to_string()
            .contains("appears twice"));
        std::fs::write(&jl, "{\"id\":\"q\"}\n").expect("write");
        assert!(incidents(&jl)
            .expect_err("no captures")
            .to_string()
            .contains("line 1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
