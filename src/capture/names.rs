//! Display names for inputs: the shortest path suffix that tells them apart.

use std::path::{Component, Path};

/// The shortest trailing path components that differ between the inputs
/// (`a/capture.pcap`, `b/capture.pcap`); the same path given twice gets
/// ` [A]` / ` [B]`-style marks, as nothing else tells them apart.
pub fn display_names(paths: &[&Path]) -> Vec<String> {
    let parts: Vec<Vec<String>> = paths
        .iter()
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let longest = parts.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let suffix = |p: &[String], n: usize| p[p.len().saturating_sub(n)..].join("/");
    let mut names: Vec<String> = Vec::with_capacity(paths.len());
    for (i, p) in parts.iter().enumerate() {
        let mut n = 1;
        while n < longest
            && parts
                .iter()
                .enumerate()
                .any(|(j, q)| j != i && suffix(q, n) == suffix(p, n))
        {
            n += 1;
        }
        let name = suffix(p, n);
        names.push(if name.is_empty() {
            paths[i].display().to_string()
        } else {
            name
        });
    }
    // Identical paths: mark them by position.
    let marked: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if names.iter().filter(|m| *m == n).count() > 1 {
                format!("{n} [{}]", side_letter(i))
            } else {
                n.clone()
            }
        })
        .collect();
    marked
}

fn side_letter(i: usize) -> char {
    char::from(b'A' + (i % 26) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &[&str]) -> Vec<String> {
        let paths: Vec<&Path> = p.iter().map(Path::new).collect();
        display_names(&paths)
    }

    #[test]
    fn shortest_unique_suffix() {
        assert_eq!(
            names(&["x/vps.pcap", "y/laptop.pcap"]),
            ["vps.pcap", "laptop.pcap"]
        );
        assert_eq!(
            names(&["/t/a/capture.pcap", "/t/b/capture.pcap"]),
            ["a/capture.pcap", "b/capture.pcap"]
        );
        assert_eq!(names(&["c.pcap", "c.pcap"]), ["c.pcap [A]", "c.pcap [B]"]);
        assert_eq!(names(&["-"]), ["-"]);
        assert_eq!(names(&["a/x/c.pcap", "c.pcap"]), ["x/c.pcap", "c.pcap"]);
    }
}
