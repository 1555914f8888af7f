//! Volumes of files (configMap, secret, downwardAPI, projected) in the layout of upstream's
//! `AtomicWriter`, so that a new version of their files replaces the old one at once: the files
//! live in a payload directory `..<UTC time>.<random>`, `..data` links to it, and each top-level
//! entry of the volume is a link through `..data`. An update writes a whole new payload, points
//! `..data` at it with one `rename`, adds and removes top-level links, and removes the old
//! payload. A program reading the volume sees the old files or the new ones, never a mix, and
//! one watching `..data` (as many do for a mounted ConfigMap) sees one change.

use super::volumes::{VolumeError, io};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The link to the current payload.
const DATA: &str = "..data";
/// The new link, renamed over [`DATA`].
const DATA_TMP: &str = "..data_tmp";

/// A new, empty payload directory in the volume `dir`: `..<UTC time>.<random>`, mode 0755.
pub fn new_payload(dir: &Path) -> Result<PathBuf, VolumeError> {
    let stamp: String = runlet_api::clock::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0)),
    )
    .trim_end_matches('Z')
    .chars()
    .map(|c| if c.is_ascii_digit() { c } else { '_' })
    .collect();
    let payload = dir.join(format!(
        "..{stamp}.{:09}",
        rand::random::<u32>() % 1_000_000_000
    ));
    std::fs::create_dir(&payload).map_err(io(&payload))?;
    std::fs::set_permissions(&payload, std::fs::Permissions::from_mode(0o755))
        .map_err(io(&payload))?;
    Ok(payload)
}

/// Empties the volume `dir` (what an earlier attempt to set it up left).
pub fn clear(dir: &Path) -> Result<(), VolumeError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        remove(&path)?;
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), VolumeError> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        _ => std::fs::remove_file(path),
    };
    removed.map_err(io(path))
}

/// Makes the first `payload` of the empty volume `dir` visible: `..data` links to it, and each
/// of its top-level entries is a link through `..data`.
pub fn publish(dir: &Path, payload: &Path) -> Result<(), VolumeError> {
    let name = file_name(payload)?;
    let data = dir.join(DATA);
    std::os::unix::fs::symlink(name, &data).map_err(io(&data))?;
    link_entries(dir, &top_level(payload)?)
}

/// Replaces the volume's current payload with `payload` when their files differ (paths,
/// contents or modes), as `AtomicWriter.Write` does: `..data` is pointed at the new payload in
/// one `rename`, links for its new top-level entries are made, links of entries it no longer
/// has are removed, and the old payload goes. When nothing differs, `payload` is removed and the
/// volume stays as it is. Whether the volume changed.
pub fn replace(dir: &Path, payload: &Path) -> Result<bool, VolumeError> {
    let data = dir.join(DATA);
    let old = std::fs::read_link(&data)
        .ok()
        .map(|name| dir.join(name))
        .filter(|old| old.is_dir());
    if let Some(old) = &old
        && same_files(old, payload)?
    {
        remove(payload)?;
        return Ok(false);
    }
    let old_entries = match &old {
        Some(old) => top_level(old)?,
        None => BTreeSet::new(),
    };
    let new_entries = top_level(payload)?;
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(file_name(payload)?, &tmp).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &data).map_err(io(&data))?;
    link_entries(
        dir,
        &new_entries.difference(&old_entries).cloned().collect(),
    )?;
    for gone in old_entries.difference(&new_entries) {
        let link = dir.join(gone);
        std::fs::remove_file(&link).map_err(io(&link))?;
    }
    if let Some(old) = old {
        remove(&old)?;
    }
    Ok(true)
}

fn file_name(payload: &Path) -> Result<&std::ffi::OsStr, VolumeError> {
    payload
        .file_name()
        .ok_or_else(|| VolumeError::BadPath(payload.display().to_string()))
}

/// The names directly in `payload`.
fn top_level(payload: &Path) -> Result<BTreeSet<std::ffi::OsString>, VolumeError> {
    std::fs::read_dir(payload)
        .map_err(io(payload))?
        .map(|e| e.map(|e| e.file_name()).map_err(io(payload)))
        .collect()
}

/// A link `dir/<entry>` → `..data/<entry>` for each entry.
fn link_entries(dir: &Path, entries: &BTreeSet<std::ffi::OsString>) -> Result<(), VolumeError> {
    for entry in entries {
        let link = dir.join(entry);
        std::os::unix::fs::symlink(Path::new(DATA).join(entry), &link).map_err(io(&link))?;
    }
    Ok(())
}

/// Whether the trees under `a` and `b` hold the same paths, with the same contents, modes and
/// owning groups.
fn same_files(a: &Path, b: &Path) -> Result<bool, VolumeError> {
    use std::os::unix::fs::MetadataExt;
    let (mut in_a, mut in_b) = (list(a)?, list(b)?);
    in_a.sort();
    in_b.sort();
    if in_a != in_b {
        return Ok(false);
    }
    for rel in &in_a {
        let (pa, pb) = (a.join(rel), b.join(rel));
        let ma = std::fs::symlink_metadata(&pa).map_err(io(&pa))?;
        let mb = std::fs::symlink_metadata(&pb).map_err(io(&pb))?;
        if ma.mode() != mb.mode() || ma.gid() != mb.gid() {
            return Ok(false);
        }
        if ma.is_file()
            && std::fs::read(&pa).map_err(io(&pa))? != std::fs::read(&pb).map_err(io(&pb))?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every path under `root`, relative to it.
fn list(root: &Path) -> Result<Vec<PathBuf>, VolumeError> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let here = root.join(&rel);
        for entry in std::fs::read_dir(&here).map_err(io(&here))? {
            let entry = entry.map_err(io(&here))?;
            let path = rel.join(entry.file_name());
            if entry.file_type().map_err(io(&here))?.is_dir() {
                todo.push(path.clone());
            }
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn write(payload: &Path, files: &[(&str, &str)]) {
        for (rel, text) in files {
            let path = payload.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
    }

    fn read(dir: &Path, rel: &str) -> String {
        std::fs::read_to_string(dir.join(rel)).unwrap()
    }

    #[test]
    fn a_changed_payload_replaces_the_old_one_and_its_links() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = new_payload(dir).unwrap();
        write(&first, &[("a", "1"), ("gone", "x"), ("sub/b", "2")]);
        publish(dir, &first).unwrap();
        assert_eq!(read(dir, "a"), "1");
        assert_eq!(read(dir, "sub/b"), "2");

        let second = new_payload(dir).unwrap();
        write(&second, &[("a", "1b"), ("new", "y"), ("sub/b", "2")]);
        assert!(replace(dir, &second).unwrap());
        assert_eq!(read(dir, "a"), "1b");
        assert_eq!(read(dir, "new"), "y");
        assert!(!dir.join("gone").exists(), "a removed key's link goes");
        assert!(std::fs::symlink_metadata(dir.join("gone")).is_err());
        assert!(!first.exists(), "the old payload goes");
        assert_eq!(
            std::fs::read_link(dir.join(DATA)).unwrap(),
            Path::new(second.file_name().unwrap())
        );
        assert_eq!(
            std::fs::read_link(dir.join("new")).unwrap(),
            Path::new("..data/new")
        );
        assert!(!dir.join(DATA_TMP).exists());
    }

    #[test]
    fn an_unchanged_payload_leaves_the_volume_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = new_payload(dir).unwrap();
        write(&first, &[("a", "1"), ("sub/b", "2")]);
        publish(dir, &first).unwrap();
        let second = new_payload(dir).unwrap();
        write(&second, &[("a", "1"), ("sub/b", "2")]);
        assert!(!replace(dir, &second).unwrap());
        assert!(first.exists() && !second.exists());
        assert_eq!(
            std::fs::read_link(dir.join(DATA)).unwrap(),
            Path::new(first.file_name().unwrap())
        );

        // A mode alone is a change.
        let third = new_payload(dir).unwrap();
        write(&third, &[("a", "1"), ("sub/b", "2")]);
        std::fs::set_permissions(third.join("a"), std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(replace(dir, &third).unwrap());
        assert!(!first.exists());
    }

    #[test]
    fn clear_empties_a_volume() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = new_payload(dir).unwrap();
        write(&first, &[("a", "1")]);
        publish(dir, &first).unwrap();
        clear(dir).unwrap();
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
    }
}
