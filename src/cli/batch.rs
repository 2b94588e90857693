//! `wgtrace batch`: many incidents offline, in parallel, as JSON Lines.
//!
//! Incidents come from a directory (one sub-directory per incident holding
//! its captures) or a manifest (CSV `id,capture,capture...` or JSON lines
//! `{"id": ..., "captures": [...]}`). Each incident's report is one JSON line
//! with its `id`; lines are written in incident order, a chunk at a time, so
//! the output does not depend on scheduling and `--resume` can pick up after
//! an interruption. `--shard I/N` (or the scheduler's environment) selects a
//! deterministic slice, so a Kubernetes Indexed Job or a Slurm array can fan
//! the work out; results merge by concatenation.

use super::args::BatchArgs;
use super::output;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One incident: an id and its captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Stable identifier (directory name or manifest id).
    pub id: String,
    /// Capture files, in the order given (directory: sorted by name).
    pub captures: Vec<PathBuf>,
}

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

/// Reads the incidents of a directory or a manifest file, sorted by id.
pub fn incidents(source: &Path) -> Result<Vec<Incident>, String> {
    let meta = fs::metadata(source).map_err(|e| format!("{}: {e}", source.display()))?;
    let mut list = if meta.is_dir() {
        from_directory(source)?
    } else {
        from_manifest(source)?
    };
    list.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = list.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(format!(
            "{}: incident id {:?} appears twice",
            source.display(),
            w[0].id
        ));
    }
    Ok(list)
}

fn from_directory(dir: &Path) -> Result<Vec<Incident>, String> {
    let read = |d: &Path| fs::read_dir(d).map_err(|e| format!("{}: {e}", d.display()));
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

fn from_manifest(file: &Path) -> Result<Vec<Incident>, String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| {
        let p = PathBuf::from(p.trim());
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: &str| format!("{} line {}: {msg}", file.display(), n + 1);
        if line.starts_with('{') {
            let v: Value = serde_json::from_str(line).map_err(|e| at(&e.to_string()))?;
            let id = v["id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| v["id"].as_u64().map(|n| n.to_string()))
                .ok_or_else(|| at("missing \"id\""))?;
            let captures = v["captures"]
                .as_array()
                .ok_or_else(|| at("missing \"captures\" array"))?
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(resolve)
                        .ok_or_else(|| at("capture paths must be strings"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Incident { id, captures });
        } else {
            let mut fields = line.split(',').map(str::trim);
            let id = fields.next().unwrap_or_default().to_string();
            if n == 0 && id.eq_ignore_ascii_case("id") {
                continue; // header row
            }
            let captures: Vec<PathBuf> = fields.filter(|f| !f.is_empty()).map(resolve).collect();
            if id.is_empty() || captures.is_empty() {
                return Err(at("expected `id,capture[,capture...]`"));
            }
            out.push(Incident { id, captures });
        }
    }
    Ok(out)
}

/// A slice of the incidents: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard number.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard takes I/N (e.g. 0/4), not {s:?}"))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("bad shard index {i:?}"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("bad shard count {n:?}"))?;
        if count == 0 || index >= count {
            return Err(format!("--shard {s}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }

    /// The shard a scheduler assigned through the environment, if any:
    /// Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`, with the count from
    /// `WGTRACE_SHARDS` or `--shards`), Slurm arrays (`SLURM_ARRAY_TASK_ID`
    /// minus `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`).
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        shards: Option<u64>,
    ) -> Result<Option<Shard>, String> {
        let num = |k: &str| -> Result<Option<u64>, String> {
            get(k)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| format!("{k}={v:?} is not a number"))
                })
                .transpose()
        };
        let count = match shards {
            Some(n) => Some(n),
            None => num("WGTRACE_SHARDS")?,
        };
        if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            let n = count.ok_or(
                "JOB_COMPLETION_INDEX is set: give the number of shards with --shards N or WGTRACE_SHARDS",
            )?;
            return Shard::parse(&format!("{i}/{n}")).map(Some);
        }
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let n = match count {
                Some(n) => n,
                None => num("SLURM_ARRAY_TASK_COUNT")?.ok_or(
                    "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give --shards N",
                )?,
            };
            return Shard::parse(&format!("{}/{n}", id.saturating_sub(min))).map(Some);
        }
        Ok(None)
    }

    /// Whether an incident belongs to this shard: a stable hash of its id,
    /// so adding incidents does not reshuffle the others.
    pub fn contains(&self, id: &str) -> bool {
        fnv1a(id.as_bytes()) % self.count == self.index
    }
}

/// FNV-1a: a fixed hash that every wgtrace version and machine agrees on.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Prepares an output file for `--resume`: drops a torn last line (an
/// interrupted write) and returns the ids already there.
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
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect())
}

/// Outcome counts for the closing summary.
#[derive(Debug, Default)]
pub struct Summary {
    /// Incidents analysed in this run.
    pub analysed: u64,
    /// Incidents skipped because `--resume` found them.
    pub skipped: u64,
    /// Incidents whose verdict was healthy.
    pub healthy: u64,
    /// Incidents whose captures could not tell (verdict inconclusive).
    pub inconclusive: u64,
    /// Incidents that could not be analysed.
    pub errors: u64,
    /// Findings by kind over all incidents (incidents with that kind).
    pub kinds: BTreeMap<String, u64>,
}

/// Runs `analyze` on each incident in parallel, `chunk` at a time, writing
/// one JSON line per incident in order. `analyze` returns the report object
/// (or an error line); the `id` field is added here.
pub fn run<W: Write>(
    incidents: &[Incident],
    chunk: usize,
    out: &mut W,
    analyze: impl Fn(&Incident) -> Result<Value, String> + Sync,
) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    for part in incidents.chunks(chunk.max(1)) {
        let results: Vec<Value> = part
            .par_iter()
            .map(|inc| {
                let mut v = match analyze(inc) {
                    Ok(v) => v,
                    Err(e) => serde_json::json!({ "error": e }),
                };
                if let Value::Object(m) = &mut v {
                    m.insert("id".into(), Value::String(inc.id.clone()));
                    m.insert(
                        "captures".into(),
                        inc.captures
                            .iter()
                            .map(|p| Value::String(p.display().to_string()))
                            .collect(),
                    );
                }
                v
            })
            .collect();
        for v in results {
            summary.analysed += 1;
            if v.get("error").is_some_and(|e| !e.is_null()) {
                summary.errors += 1;
            } else if v["verdict"] == "healthy" {
                summary.healthy += 1;
            } else if v["verdict"] == "inconclusive" {
                summary.inconclusive += 1;
            }
            let mut kinds: Vec<&str> = v["findings"]
                .as_array()
                .map(|f| f.iter().filter_map(|x| x["kind"].as_str()).collect())
                .unwrap_or_default();
            kinds.sort_unstable();
            kinds.dedup();
            for k in kinds {
                *summary.kinds.entry(k.to_string()).or_default() += 1;
            }
            serde_json::to_writer(&mut *out, &v)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(summary)
}

/// Analyses one incident: its first two captures (or its only one).
fn analyze_incident(inc: &Incident, opts: &wgtrace::pipeline::Options) -> Result<Value, String> {
    let pair: Vec<PathBuf> = inc.captures.iter().take(2).cloned().collect();
    let analysis = wgtrace::pipeline::analyze_files_with(&pair, opts).map_err(|e| e.to_string())?;
    let mut v = serde_json::to_value(&analysis.report).map_err(|e| e.to_string())?;
    if let Value::Object(m) = &mut v {
        if !analysis.damaged.is_empty() {
            let errors: Vec<String> = analysis.damaged.iter().map(ToString::to_string).collect();
            m.insert("error".into(), Value::String(errors.join("; ")));
        }
        if inc.captures.len() > 2 {
            m.insert(
                "skipped_captures".into(),
                inc.captures[2..]
                    .iter()
                    .map(|p| Value::String(p.display().to_string()))
                    .collect(),
            );
        }
    }
    Ok(v)
}

/// Runs `batch`; returns the exit code (2 when any incident failed, 1 when any had problems).
pub fn main(args: &BatchArgs, opts: &wgtrace::pipeline::Options) -> u8 {
    let all = match incidents(&args.source) {
        Ok(list) => list,
        Err(e) => {
            output::error(&e);
            return super::ERROR;
        }
    };
    let shard = match &args.shard {
        Some(s) => Shard::parse(s).map(Some),
        None => Shard::from_env(|k| std::env::var(k).ok(), args.shards),
    };
    let shard = match shard {
        Ok(s) => s,
        Err(e) => {
            output::error(&e);
            return super::ERROR;
        }
    };
    if let Some(out) = &args.output {
        // The manifest is an input too: overwriting it would lose the incident list.
        let mut inputs: Vec<PathBuf> = all.iter().flat_map(|i| i.captures.clone()).collect();
        inputs.push(args.source.clone());
        if let Err(e) = output::check_not_input(out, &inputs) {
            output::error(&e);
            return super::ERROR;
        }
    }
    let done = match (&args.output, args.resume) {
        (Some(out), true) => match resume_from(out) {
            Ok(ids) => ids,
            Err(e) => {
                output::error(&format!("{}: cannot resume: {e}", out.display()));
                return super::ERROR;
            }
        },
        _ => HashSet::new(),
    };
    let selected: Vec<Incident> = all
        .iter()
        .filter(|i| shard.is_none_or(|s| s.contains(&i.id)))
        .cloned()
        .collect();
    let todo: Vec<Incident> = selected
        .iter()
        .filter(|i| !done.contains(&i.id))
        .cloned()
        .collect();
    let chunk = 4 * rayon::current_num_threads();
    let result = match &args.output {
        // Appending keeps each finished chunk, for the next --resume.
        Some(path) if args.resume => fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                run(&todo, chunk, &mut w, |i| analyze_incident(i, opts))
            }),
        Some(path) => output::AtomicFile::create(path).and_then(|mut f| {
            let summary = run(&todo, chunk, &mut std::io::BufWriter::new(&mut f), |i| {
                analyze_incident(i, opts)
            })?;
            f.commit()?;
            Ok(summary)
        }),
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            run(&todo, chunk, &mut lock, |i| analyze_incident(i, opts))
        }
    };
    let mut summary = match result {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return super::OK,
        Err(e) => {
            output::error(&format!("cannot write output: {e}"));
            return super::ERROR;
        }
    };
    summary.skipped = (selected.len() - todo.len()) as u64;
    output::error_block(&render_summary(&summary, all.len(), shard));
    if summary.errors > 0 {
        super::ERROR
    } else if summary.analysed > summary.healthy + summary.inconclusive {
        super::PROBLEMS
    } else if summary.inconclusive > 0 {
        super::INCONCLUSIVE
    } else {
        super::OK
    }
}

fn render_summary(s: &Summary, total: usize, shard: Option<Shard>) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let num = |n: u64| Cell::new(n).set_alignment(CellAlignment::Right);
    t.set_header(vec!["batch summary", "incidents"]);
    let scope = match shard {
        Some(sh) => format!("in shard {}/{} (of {total})", sh.index, sh.count),
        None => "in the input".to_string(),
    };
    t.add_row(vec![Cell::new(scope), num(s.analysed + s.skipped)]);
    t.add_row(vec![Cell::new("skipped (--resume)"), num(s.skipped)]);
    t.add_row(vec![Cell::new("analysed"), num(s.analysed)]);
    t.add_row(vec![Cell::new("healthy"), num(s.healthy)]);
    t.add_row(vec![Cell::new("inconclusive"), num(s.inconclusive)]);
    t.add_row(vec![Cell::new("errors"), num(s.errors)]);
    for (kind, n) in &s.kinds {
        t.add_row(vec![Cell::new(format!("with {kind}")), num(*n)]);
    }
    format!("{t}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_ids() {
        let ids: Vec<String> = (0..500).map(|i| format!("incident-{i}")).collect();
        let shards: Vec<Shard> = (0..4).map(|i| Shard { index: i, count: 4 }).collect();
        for id in &ids {
            assert_eq!(shards.iter().filter(|s| s.contains(id)).count(), 1);
        }
        let sizes: Vec<usize> = shards
            .iter()
            .map(|s| ids.iter().filter(|id| s.contains(id)).count())
            .collect();
        assert!(sizes.iter().all(|&n| n > 80), "{sizes:?}");
    }

    #[test]
    fn shard_from_scheduler_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "3")]), Some(8)),
            Ok(Some(Shard { index: 3, count: 8 }))
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "3")]), None).is_err());
        assert_eq!(
            Shard::from_env(
                env(&[
                    ("SLURM_ARRAY_TASK_ID", "11"),
                    ("SLURM_ARRAY_TASK_MIN", "10"),
                    ("SLURM_ARRAY_TASK_COUNT", "5")
                ]),
                None
            ),
            Ok(Some(Shard { index: 1, count: 5 }))
        );
        assert_eq!(Shard::from_env(env(&[]), None), Ok(None));
        assert!(Shard::parse("4/4").is_err());
    }

    #[test]
    fn manifests_in_csv_and_json_lines() {
        let dir = std::env::temp_dir().join(format!("wgtrace-batch-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let csv = dir.join("m.csv");
        fs::write(
            &csv,
            "id,a,b\nx1, a.pcap ,/abs/b.pcap\n\n# note\nx0,c.pcap\n",
        )
        .expect("write");
        let got = incidents(&csv).expect("parses");
        assert_eq!(got[0].id, "x0");
        assert_eq!(
            got[1].captures,
            vec![dir.join("a.pcap"), PathBuf::from("/abs/b.pcap")]
        );
        let jl = dir.join("m.jsonl");
        fs::write(
            &jl,
            "{\"id\":\"q\",\"captures\":[\"a.pcap\",\"b.pcap\"]}\n{\"id\":\"q\",\"captures\":[]}\n",
        )
        .expect("write");
        assert!(incidents(&jl).expect_err("duplicate id").contains("twice"));
    }
}
