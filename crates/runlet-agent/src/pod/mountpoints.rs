//! Mount points the agent makes on the host, and takes away again.
//!
//! The process runtime has no image root file system: a volume's `mountPath` is bound over a
//! path of the host, which must exist. When it does not, the agent makes it (the directories
//! leading to it as well) and remembers what it made. Every pod using such a path holds a
//! claim; when the last claim goes, what the agent made is removed again if it is still empty,
//! so `/backup` or `/data` do not stay behind on the host after the Job. Paths that existed
//! before are never touched. Claims are released only after a pod's containers are all gone,
//! so no mount namespace still has something bound there (removing a mount point of another
//! namespace would detach the mount from it).
//!
//! The record is also kept in a journal file in the agent's data directory: pods do not
//! outlive the agent (their processes die with it), so when it starts again, whatever the
//! journal lists is no longer claimed, and [`MountPoints::recover`] removes what is empty.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A mount point the agent made: how many pods use it, and what was made for it.
#[derive(Debug)]
struct Made {
    claims: usize,
    /// The target and the directories made to reach it, deepest first.
    created: Vec<PathBuf>,
}

/// The agent's record of the mount points it made; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MountPoints {
    made: Arc<Mutex<HashMap<PathBuf, Made>>>,
    /// Where the record is kept across restarts (none: in memory only).
    journal: Option<Arc<Path>>,
}

impl MountPoints {
    /// The record kept in `journal`, after removing what an earlier run of the agent made and
    /// is still empty: that run's pods are gone, so nothing claims it any more.
    pub fn recover(journal: PathBuf) -> MountPoints {
        let mut left: Vec<PathBuf> = std::fs::read_to_string(&journal)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Vec<PathBuf>>(line).ok())
            .flatten()
            .collect();
        // Deepest first, so a directory two mount points shared goes after both.
        left.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        left.dedup();
        for p in &left {
            remove_if_empty(p);
        }
        let points = MountPoints {
            made: Default::default(),
            journal: Some(journal.into()),
        };
        points.save(&HashMap::new());
        points
    }

    /// Writes the record to the journal (whole, through a rename, so a crash leaves the old
    /// record or the new one).
    fn save(&self, made: &HashMap<PathBuf, Made>) {
        let Some(journal) = &self.journal else {
            return;
        };
        let mut text = String::new();
        for m in made.values() {
            if let Ok(line) = serde_json::to_string(&m.created) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        let tmp = journal.with_extension("tmp");
        let saved = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, journal));
        if let Err(e) = saved {
            tracing::warn!(journal = %journal.display(), "cannot record the mount points made: {e}");
        }
    }

    /// Makes sure `target` exists (a directory when `dir`, else an empty file) and, when the
    /// agent made it, counts a claim on it. Returns whether a claim was taken, to be given back
    /// with [`MountPoints::release`].
    pub fn claim(&self, target: &Path, dir: bool) -> std::io::Result<bool> {
        let Ok(mut made) = self.made.lock() else {
            return Ok(false);
        };
        if let Some(m) = made.get_mut(target) {
            m.claims += 1;
            return Ok(true);
        }
        if target.exists() {
            return Ok(false);
        }
        let mut missing: Vec<PathBuf> = target
            .ancestors()
            .skip(1)
            .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
            .map(Path::to_path_buf)
            .collect();
        for d in missing.iter().rev() {
            std::fs::create_dir(d)?;
        }
        if dir {
            std::fs::create_dir(target)?;
        } else {
            std::fs::File::create(target)?;
        }
        missing.insert(0, target.to_path_buf());
        made.insert(
            target.to_path_buf(),
            Made {
                claims: 1,
                created: missing,
            },
        );
        self.save(&made);
        Ok(true)
    }

    /// Gives back a claim; with the last one, removes what was made for `target` that is
    /// still empty.
    pub fn release(&self, target: &Path) {
        let Ok(mut made) = self.made.lock() else {
            return;
        };
        let Some(m) = made.get_mut(target) else {
            return;
        };
        m.claims = m.claims.saturating_sub(1);
        if m.claims > 0 {
            return;
        }
        if let Some(m) = made.remove(target) {
            for (i, p) in m.created.iter().enumerate() {
                // Another claimed mount point may lie under a directory made for this one:
                // the rest is its to remove.
                if i > 0
                    && let Some(other) = made
                        .values_mut()
                        .find(|o| o.created.first().is_some_and(|t| t.starts_with(p)))
                {
                    other.created.extend(m.created.iter().skip(i).cloned());
                    break;
                }
                if !remove_if_empty(p) {
                    break;
                }
            }
            self.save(&made);
        }
    }
}

/// Removes `p` if it is an empty directory or an empty file; whether it did.
fn remove_if_empty(p: &Path) -> bool {
    let removed = if p.is_dir() {
        std::fs::remove_dir(p)
    } else if p.metadata().is_ok_and(|m| m.len() == 0) {
        std::fs::remove_file(p)
    } else {
        return false;
    };
    removed.is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn what_was_made_goes_with_the_last_claim_and_what_existed_stays() {
        let root = tempfile::tempdir().unwrap();
        let points = MountPoints::default();
        let data = root.path().join("a/b/data");
        assert!(points.claim(&data, true).unwrap());
        assert!(points.claim(&data, true).unwrap(), "a second pod");
        let file = root.path().join("a/term");
        assert!(points.claim(&file, false).unwrap());
        points.release(&data);
        assert!(data.is_dir(), "still claimed");
        points.release(&data);
        assert!(!root.path().join("a/b").exists(), "made for it, removed");
        assert!(root.path().join("a").exists(), "still holds a claimed file");
        points.release(&file);
        assert!(!root.path().join("a").exists());
        assert!(root.path().exists(), "existed before");

        let kept = root.path().join("kept");
        std::fs::create_dir(&kept).unwrap();
        assert!(
            !points.claim(&kept, true).unwrap(),
            "existed before: no claim"
        );
        let written = root.path().join("w/x");
        assert!(points.claim(&written, true).unwrap());
        std::fs::write(written.join("left"), "data").unwrap();
        points.release(&written);
        assert!(
            written.join("left").exists(),
            "never removes what is not empty"
        );
    }

    #[test]
    fn what_a_stopped_agent_made_is_removed_when_it_starts_again() {
        let root = tempfile::tempdir().unwrap();
        let journal = root.path().join("mount-points");
        let host = root.path().join("host");
        std::fs::create_dir(&host).unwrap();
        let points = MountPoints::recover(journal.clone());
        for target in ["shared/a/data", "shared/b", "gone", "written"] {
            assert!(points.claim(&host.join(target), true).unwrap());
        }
        assert!(points.claim(&host.join("term"), false).unwrap());
        points.release(&host.join("gone"));
        std::fs::write(host.join("written/left"), "data").unwrap();
        // The agent stops with pods still holding claims, and starts again.
        drop(points);
        let points = MountPoints::recover(journal.clone());
        let mut left: Vec<_> = std::fs::read_dir(&host)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["written"], "only what is not empty stays");
        assert!(host.join("written/left").exists());
        assert_eq!(std::fs::read_to_string(&journal).unwrap(), "");
        assert!(points.claim(&host.join("new"), true).unwrap());
        assert!(std::fs::read_to_string(&journal).unwrap().contains("new"));
    }
}
