//! Completion indexes of Indexed Jobs, as upstream `indexed_job_utils.go`: the compressed
//! interval lists written to `status.completedIndexes` / `status.failedIndexes` ("0-2,5"), the
//! index carried by each pod (annotation, label, env var, hostname) and the choice of which
//! indexes to start next.
//!
//! Invariant: an [`Intervals`] value is sorted, non-overlapping and never has two adjacent
//! intervals (they are merged), so `to_string` gives the same text upstream does.

use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeSet;
use std::fmt;

/// Annotation (and label) carrying a pod's completion index.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// Annotation counting the failures of an index (backoffLimitPerIndex).
pub const INDEX_FAILURE_COUNT_ANNOTATION: &str = "batch.kubernetes.io/job-index-failure-count";
/// Annotation counting the ignored failures of an index (podFailurePolicy Ignore).
pub const INDEX_IGNORED_FAILURE_COUNT_ANNOTATION: &str =
    "batch.kubernetes.io/job-index-ignored-failure-count";
/// The env var every container of an Indexed Job's pod receives.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// Longest `generateName` prefix the API server accepts (63 minus the 5 random characters).
pub const MAX_GENERATED_NAME_LENGTH: usize = 58;

/// One closed interval of indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub first: i64,
    pub last: i64,
}

/// A sorted list of disjoint, non-adjacent intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(pub Vec<Interval>);

impl Intervals {
    /// Parses "1,3-5" as upstream `parseIndexesFromString`: corrupt pieces are skipped, indexes
    /// at or past `completions` are dropped.
    pub fn parse(text: &str, completions: i64) -> Intervals {
        let mut out: Vec<Interval> = Vec::new();
        if text.is_empty() {
            return Intervals(out);
        }
        for piece in text.split(',') {
            let mut limits = piece.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i64>) else {
                continue;
            };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                Some(l) => match l.parse::<i64>() {
                    Ok(l) => l.min(completions - 1),
                    Err(_) => continue,
                },
                None => first,
            };
            match out.last_mut() {
                Some(prev) if prev.last == first - 1 => prev.last = last,
                _ => out.push(Interval { first, last }),
            }
        }
        Intervals(out)
    }

    /// Number of indexes covered.
    pub fn total(&self) -> i64 {
        self.0.iter().map(|i| i.last - i.first + 1).sum()
    }

    /// Whether `ix` is covered (binary search).
    pub fn has(&self, ix: i64) -> bool {
        let pos = self.0.partition_point(|i| i.last < ix);
        self.0.get(pos).is_some_and(|i| i.first <= ix)
    }

    /// A new list that also contains `indexes` (given in increasing order).
    pub fn with_ordered_indexes(&self, indexes: impl IntoIterator<Item = i64>) -> Intervals {
        let other = Intervals(
            indexes
                .into_iter()
                .map(|i| Interval { first: i, last: i })
                .collect(),
        );
        self.merge(&other)
    }

    /// Union of two ordered lists.
    pub fn merge(&self, other: &Intervals) -> Intervals {
        let mut result: Vec<Interval> = Vec::with_capacity(self.0.len() + other.0.len());
        let mut push = |iv: Interval| match result.last_mut() {
            Some(last) if iv.first <= last.last + 1 => {
                if last.last < iv.last {
                    last.last = iv.last;
                }
            }
            _ => result.push(iv),
        };
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < other.0.len() {
            if self.0[i].first < other.0[j].first {
                push(self.0[i]);
                i += 1;
            } else {
                push(other.0[j]);
                j += 1;
            }
        }
        self.0[i..].iter().for_each(|iv| push(*iv));
        other.0[j..].iter().for_each(|iv| push(*iv));
        Intervals(result)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Intervals {
    /// "0-2,5"; two adjacent indexes are written "0,1" as upstream does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, iv) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", iv.first)?;
            if iv.last > iv.first {
                let sep = if iv.last == iv.first + 1 { "," } else { "-" };
                write!(f, "{sep}{}", iv.last)?;
            }
        }
        Ok(())
    }
}

/// The completion index of a pod from its annotation, `None` when absent, corrupt or negative.
pub fn completion_index(pod: &Pod) -> Option<i64> {
    let v = pod
        .metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX_ANNOTATION)?;
    let i: i64 = v.parse().ok()?;
    (i >= 0).then_some(i)
}

/// The completion index if it is valid for `completions`.
pub fn valid_index(pod: &Pod, completions: i64) -> Option<i64> {
    completion_index(pod).filter(|ix| *ix < completions)
}

/// `generateName` for an Indexed pod: `<job>-<index>-`, the job name cut so the whole fits.
pub fn generate_name_with_index(job_name: &str, index: i64) -> String {
    let suffix = format!("-{index}-");
    let prefix = format!("{job_name}{suffix}");
    if prefix.len() > MAX_GENERATED_NAME_LENGTH {
        let keep = MAX_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
        let cut: String = job_name.chars().take(keep).collect();
        format!("{cut}{suffix}")
    } else {
        prefix
    }
}

/// `generateName` for a NonIndexed pod: `<job>-`, as upstream `getPodsPrefix`.
pub fn generate_name(job_name: &str) -> String {
    let prefix = format!("{job_name}-");
    if prefix.len() > MAX_GENERATED_NAME_LENGTH {
        job_name.chars().take(MAX_GENERATED_NAME_LENGTH).collect()
    } else {
        prefix
    }
}

/// The first `count` indexes below `completions` that are not in `non_pending`
/// (upstream `firstPendingIndexes`; the caller merges active, succeeded, failed and, when only
/// failed pods are replaced, terminating indexes into `non_pending`).
pub fn first_pending_indexes(non_pending: &Intervals, count: usize, completions: i64) -> Vec<i64> {
    let mut result = Vec::with_capacity(count.min(1024));
    if count == 0 {
        return result;
    }
    let mut candidate = 0i64;
    for iv in &non_pending.0 {
        while candidate < completions && result.len() < count && candidate < iv.first {
            result.push(candidate);
            candidate += 1;
        }
        if candidate < iv.last + 1 {
            candidate = iv.last + 1;
        }
    }
    while candidate < completions && result.len() < count {
        result.push(candidate);
        candidate += 1;
    }
    result
}

/// Indexes of a set of pods, in order.
pub fn indexes_of<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> BTreeSet<i64> {
    pods.into_iter().filter_map(completion_index).collect()
}

/// A non-negative int32 annotation value, 0 when absent or corrupt (upstream `parseInt32`).
pub fn annotation_i32(pod: &Pod, key: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| (0..=i64::from(i32::MAX)).contains(v))
        .map_or(0, |v| v as i32)
}

/// Failures of the pod's index counted so far (job-index-failure-count).
pub fn index_failure_count(pod: &Pod) -> i32 {
    annotation_i32(pod, INDEX_FAILURE_COUNT_ANNOTATION)
}

/// Counted plus ignored failures of the pod's index.
pub fn index_absolute_failure_count(pod: &Pod) -> i32 {
    index_failure_count(pod)
        .saturating_add(annotation_i32(pod, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn iv(v: &[(i64, i64)]) -> Intervals {
        Intervals(
            v.iter()
                .map(|(a, b)| Interval {
                    first: *a,
                    last: *b,
                })
                .collect(),
        )
    }

    #[test]
    fn completed_indexes_are_compressed_as_upstream() {
        // upstream TestOrderedIntervalsString: runs of 3+ are ranges, pairs are "a,b".
        assert_eq!(iv(&[(0, 2), (5, 5)]).to_string(), "0-2,5");
        assert_eq!(iv(&[(0, 1)]).to_string(), "0,1");
        assert_eq!(iv(&[]).to_string(), "");
        assert_eq!(
            Intervals::default()
                .with_ordered_indexes([0, 1, 2, 4, 7, 8])
                .to_string(),
            "0-2,4,7,8"
        );
    }

    #[test]
    fn parse_drops_out_of_range_and_corrupt_pieces() {
        assert_eq!(Intervals::parse("0-2,5", 10), iv(&[(0, 2), (5, 5)]));
        assert_eq!(Intervals::parse("0,1,2", 10), iv(&[(0, 2)]));
        assert_eq!(Intervals::parse("x,3-20", 10), iv(&[(3, 9)]));
        assert_eq!(Intervals::parse("3,12", 10), iv(&[(3, 3)]));
        assert_eq!(Intervals::parse("", 10).total(), 0);
    }

    #[test]
    fn merge_and_has() {
        let a = iv(&[(0, 2), (8, 9)]);
        let b = iv(&[(3, 4), (6, 6)]);
        let m = a.merge(&b);
        assert_eq!(m, iv(&[(0, 4), (6, 6), (8, 9)]));
        assert!(m.has(4) && m.has(6) && !m.has(5) && !m.has(10));
        assert_eq!(m.total(), 8);
    }

    #[test]
    fn first_pending_skips_non_pending() {
        let np = iv(&[(0, 1), (3, 3)]);
        assert_eq!(first_pending_indexes(&np, 3, 10), vec![2, 4, 5]);
        assert_eq!(first_pending_indexes(&np, 10, 5), vec![2, 4]);
        assert!(first_pending_indexes(&np, 0, 5).is_empty());
    }

    #[test]
    fn generate_names_fit_in_58_characters() {
        assert_eq!(generate_name_with_index("pi", 3), "pi-3-");
        let long = "a".repeat(63);
        let g = generate_name_with_index(&long, 123);
        assert_eq!(g.len(), 58);
        assert!(g.ends_with("-123-"));
        assert_eq!(generate_name("pi"), "pi-");
        assert_eq!(generate_name(&long).len(), 58);
    }
}
