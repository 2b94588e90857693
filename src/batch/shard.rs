//! Shards: the slice of the incidents one task of a scheduler analyses.
//!
//! Shard `i` of `n` over `len` incidents sorted by id is the contiguous run
//! `i * len / n .. (i + 1) * len / n`: every incident is in exactly one shard,
//! the shards' sizes differ by at most one (11 incidents over 3 shards: 3, 4,
//! 4), and the shards' outputs concatenated in shard order are the output of
//! one run over all incidents. The assignment depends on the whole sorted
//! list, so every task of a job must read the same directory or manifest, and
//! it must not change between the runs of a job that is resumed.

use super::{Error, Incident};
use std::ops::Range;

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
    pub fn parse(s: &str) -> Result<Shard, Error> {
        let bad = |m: String| Error::Shard(m);
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad(format!("--shard takes I/N (e.g. 0/4), not {s:?}")))?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| bad(format!("bad shard index {i:?}")))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("bad shard count {n:?}")))?;
        if count == 0 || index >= count {
            return Err(bad(format!("--shard {s}: need 0 <= I < N")));
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
    ) -> Result<Option<Shard>, Error> {
        let num = |k: &str| -> Result<Option<u64>, Error> {
            get(k)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| Error::Shard(format!("{k}={v:?} is not a number")))
                })
                .transpose()
        };
        let count = match shards {
            Some(n) => Some(n),
            None => num("WGTRACE_SHARDS")?,
        };
        if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            let n = count.ok_or_else(|| Error::Shard(
                "JOB_COMPLETION_INDEX is set: give the number of shards with --shards N or WGTRACE_SHARDS".into(),
            ))?;
            return Shard::parse(&format!("{i}/{n}")).map(Some);
        }
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let n = match count {
                Some(n) => n,
                None => num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                    Error::Shard(
                        "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give --shards N"
                            .into(),
                    )
                })?,
            };
            return Shard::parse(&format!("{}/{n}", id.saturating_sub(min))).map(Some);
        }
        Ok(None)
    }

    /// The positions of this shard's incidents among `len` sorted ones.
    pub fn range(&self, len: usize) -> Range<usize> {
        let at = |i: u64| (u128::from(i) * len as u128 / u128::from(self.count)) as usize;
        at(self.index)..at(self.index + 1)
    }

    /// This shard's incidents of `sorted` (sorted by id, as [`super::incidents`] gives them).
    pub fn select<'a>(&self, sorted: &'a [Incident]) -> &'a [Incident] {
        sorted.get(self.range(sorted.len())).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sizes(len: usize, count: u64) -> Vec<usize> {
        (0..count)
            .map(|index| Shard { index, count }.range(len).len())
            .collect()
    }

    #[test]
    fn eleven_over_three() {
        assert_eq!(sizes(11, 3), [3, 4, 4]);
        assert_eq!(sizes(2, 4), [0, 1, 0, 1]);
    }

    proptest! {
        /// Every position in exactly one shard, in order, sizes within one.
        #[test]
        fn shards_partition_in_order_and_balance(len in 0usize..2000, count in 1u64..64) {
            let mut next = 0;
            for index in 0..count {
                let r = Shard { index, count }.range(len);
                prop_assert_eq!(r.start, next);
                next = r.end;
            }
            prop_assert_eq!(next, len);
            let s = sizes(len, count);
            let (lo, hi) = (s.iter().min().copied(), s.iter().max().copied());
            prop_assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{:?}", s);
        }
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
        let ok = |r: Result<Option<Shard>, Error>| r.ok().flatten();
        assert_eq!(
            ok(Shard::from_env(
                env(&[("JOB_COMPLETION_INDEX", "3")]),
                Some(8)
            )),
            Some(Shard { index: 3, count: 8 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "3")]), None).is_err());
        assert_eq!(
            ok(Shard::from_env(
                env(&[
                    ("SLURM_ARRAY_TASK_ID", "11"),
                    ("SLURM_ARRAY_TASK_MIN", "10"),
                    ("SLURM_ARRAY_TASK_COUNT", "5")
                ]),
                None
            )),
            Some(Shard { index: 1, count: 5 })
        );
        assert!(matches!(Shard::from_env(env(&[]), None), Ok(None)));
        assert!(Shard::parse("4/4").is_err());
    }
}
