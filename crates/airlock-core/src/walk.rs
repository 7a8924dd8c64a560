//! Walking files and trees: the one walker every command that reads a tree uses (scan, canary
//! check, FHIR bulk exports, DICOM studies).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The files under `paths` in path order (directories recursively; symbolic links are not
/// followed, folders named in `skip_dirs` and what is neither a file nor a folder (devices,
/// pipes, sockets) are left out, all listed in `skipped`).
pub fn collect_files(
    paths: &[PathBuf],
    skip_dirs: &[&str],
    skipped: &mut Vec<(PathBuf, &'static str)>,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, skip_dirs, &mut files, skipped)?;
    }
    Ok(files)
}

fn collect(
    path: &Path,
    skip_dirs: &[&str],
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<(PathBuf, &'static str)>,
) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io("read", path, e))?;
    if meta.file_type().is_symlink() {
        skipped.push((path.to_path_buf(), "symbolic link (not followed)"));
    } else if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io("list", path, e))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io("list", path, e))?;
        entries.sort();
        for e in entries {
            let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if skip_dirs.contains(&name) && e.is_dir() {
                skipped.push((e, "workspace or version-control folder"));
                continue;
            }
            collect(&e, skip_dirs, files, skipped)?;
        }
    } else if meta.is_file() {
        files.push(path.to_path_buf());
    } else {
        skipped.push((
            path.to_path_buf(),
            "not a regular file (a device, pipe or socket)",
        ));
    }
    Ok(())
}
