//! Atomic output and digests of what flows through readers and writers.
//!
//! An output is written to a hidden temporary file beside its target and renamed over it only
//! when the whole run succeeded: a failed or killed run leaves no partial file at the target.
//! The rename is made durable by syncing the file and its directory.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::policy::hex;

/// A file being written beside its target, renamed into place by [`AtomicOutput::commit`].
/// Dropped without a commit, the temporary file is deleted.
pub struct AtomicOutput {
    target: PathBuf,
    tmp: NamedTempFile,
    force: bool,
    _live: Registered,
}

impl AtomicOutput {
    /// Starts an output at `target`. Without `force`, an existing target is an error now,
    /// before any work is done, and again at the rename (no clobbering a file that appeared
    /// meanwhile).
    pub fn create(target: &Path, force: bool) -> Result<Self> {
        let dir = parent_dir(target);
        let tmp = tempfile::Builder::new()
            .prefix(&staging_prefix(target, force)?)
            .suffix(TMP_SUFFIX)
            .tempfile_in(dir)
            .map_err(|e| Error::io("create a temporary file in", dir, e))?;
        Ok(Self {
            target: target.to_path_buf(),
            _live: Registered::new(tmp.path()),
            tmp,
            force,
        })
    }

    /// The target path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// A handle on the temporary file for a writer to own.
    pub fn file(&self) -> Result<File> {
        self.tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io("open", self.tmp.path(), e))
    }

    /// Syncs the data, renames it over the target and syncs the directory.
    pub fn commit(self) -> Result<()> {
        let Self {
            target,
            tmp,
            force,
            _live,
        } = self;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("sync", &target, e))?;
        let persisted = if force {
            tmp.persist(&target)
        } else {
            tmp.persist_noclobber(&target)
        };
        persisted.map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                Error::OutputExists {
                    path: target.clone(),
                }
            } else {
                Error::io("rename into", &target, e.error)
            }
        })?;
        sync_dir(parent_dir(&target));
        Ok(())
    }
}

/// Writes `bytes` to `target` atomically (manifests, policies, small files).
pub fn write_atomic(target: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let out = AtomicOutput::create(target, force)?;
    let mut file = out.file()?;
    file.write_all(bytes)
        .map_err(|e| Error::io("write", target, e))?;
    out.commit()
}

/// The name prefix of the hidden temporary beside `target` (`.NAME.PID.`; the suffix is
/// [`TMP_SUFFIX`]), after the no-clobber check. Temporaries of the same target left by a
/// process that no longer runs (a run killed with SIGKILL) are removed first.
fn staging_prefix(target: &Path, force: bool) -> Result<String> {
    if !force && target.exists() {
        return Err(Error::OutputExists {
            path: target.to_path_buf(),
        });
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    remove_stale(parent_dir(target), &format!(".{name}."));
    Ok(format!(".{name}.{}.", std::process::id()))
}

/// Temporaries beside a target whose process is gone: removed, and listed for
/// [`take_stale_removed`]. One whose process may still run (or whose name carries no process
/// id) is left alone.
fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        let Some(rest) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(TMP_SUFFIX))
        else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || process_may_run(pid) {
            continue;
        }
        let path = entry.path();
        if remove_temporary(&path).is_ok() {
            lock(&STALE_REMOVED).push(path);
        }
    }
}

/// Whether a process with this id may still run: true unless `/proc` says it does not (so
/// where there is no `/proc`, nothing is ever taken for stale).
pub fn process_may_run(pid: u32) -> bool {
    let proc_root = Path::new("/proc/self");
    !proc_root.exists() || Path::new("/proc").join(pid.to_string()).exists()
}

/// Temporaries of this process not yet committed or dropped (removed by
/// [`remove_live_temporaries`] when the process is interrupted).
static LIVE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Stale temporaries this process removed.
static STALE_REMOVED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn lock<T>(m: &'static std::sync::Mutex<T>) -> std::sync::MutexGuard<'static, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every temporary this process is writing. For a signal handler: the process is about
/// to exit, and no output of its may be left half-written beside its target.
pub fn remove_live_temporaries() -> usize {
    let live = std::mem::take(&mut *lock(&LIVE));
    let mut removed = 0;
    for path in live {
        removed += usize::from(remove_temporary(&path).is_ok());
    }
    removed
}

/// Removes a temporary file, or a temporary directory with everything in it (never following
/// a link: a link is removed as a file).
fn remove_temporary(path: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// The stale temporaries (of earlier, killed runs) removed so far, for the caller to report.
pub fn take_stale_removed() -> Vec<PathBuf> {
    std::mem::take(&mut *lock(&STALE_REMOVED))
}

/// The suffix of every temporary airlock writes beside a target.
const TMP_SUFFIX: &str = ".airlock-tmp";

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) {
    // Best effort: some filesystems refuse fsync on a directory; the data itself is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A directory being written beside its target (a hidden temporary directory), renamed into
/// place by [`AtomicDir::commit`] once every file in it is written. Dropped without a commit,
/// it is deleted with its contents: a failed run over a tree leaves nothing at the target.
pub struct AtomicDir {
    target: PathBuf,
    tmp: tempfile::TempDir,
    force: bool,
    _live: Registered,
}

impl AtomicDir {
    /// Starts a directory output at `target`; an existing target needs `force`.
    pub fn create(target: &Path, force: bool) -> Result<Self> {
        let dir = parent_dir(target);
        let tmp = tempfile::Builder::new()
            .prefix(&staging_prefix(target, force)?)
            .suffix(TMP_SUFFIX)
            .tempdir_in(dir)
            .map_err(|e| Error::io("create a temporary directory in", dir, e))?;
        Ok(Self {
            target: target.to_path_buf(),
            _live: Registered::new(tmp.path()),
            tmp,
            force,
        })
    }

    /// Where the files go until the commit.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Syncs the files written under [`AtomicDir::path`] (`written`, relative to it), then
    /// replaces the target with the directory.
    pub fn commit(self, written: &[PathBuf]) -> Result<()> {
        for rel in written {
            let p = self.tmp.path().join(rel);
            File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io("sync", &p, e))?;
        }
        let target = self.target;
        if target.exists() {
            if !self.force {
                return Err(Error::OutputExists { path: target });
            }
            std::fs::remove_dir_all(&target).map_err(|e| Error::io("replace", &target, e))?;
        }
        let staged = self.tmp.keep();
        std::fs::rename(&staged, &target).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            Error::io("rename into", &target, e)
        })?;
        sync_dir(parent_dir(&target));
        Ok(())
    }
}

/// A temporary's entry in the live list, taken out when this is dropped (after a commit, or
/// when the temporary itself is dropped and deleted). Also for a caller's own temporary
/// directory (decrypted inputs), so that an interrupt removes it too.
pub struct Registered(PathBuf);

impl Registered {
    /// Puts `path` (a file or directory this process is writing and will delete or rename)
    /// on the list that [`remove_live_temporaries`] clears when the process is interrupted.
    pub fn new(path: &Path) -> Self {
        lock(&LIVE).push(path.to_path_buf());
        Self(path.to_path_buf())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&LIVE).retain(|p| p != &self.0);
    }
}

/// A reader or writer that computes the SHA-256 and length of every byte that passes.
pub struct Digesting<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Digesting<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes seen so far.
    pub fn byte_count(&self) -> u64 {
        self.bytes
    }

    /// The digest of everything seen so far, as lowercase hex.
    pub fn sha256(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The never-over-the-input guard every run calls before it writes: an error when `output` is
/// `input` (by any path, links and `..` resolved), or lies inside `input` (a tree).
pub fn refuse_overwrite(input: &Path, output: &Path) -> Result<()> {
    let inside = || {
        let (Ok(i), Some(parent)) = (input.canonicalize(), output.parent()) else {
            return false;
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        i.is_dir() && parent.canonicalize().is_ok_and(|p| p.starts_with(&i))
    };
    if input == output || same_file(input, output) || inside() {
        return Err(Error::OutputIsInput {
            output: output.to_path_buf(),
            input: input.to_path_buf(),
        });
    }
    Ok(())
}

/// True when both paths name one existing file (after links and `..` are resolved).
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// SHA-256 and length of a whole file.
pub fn digest_file(path: &Path) -> Result<(String, u64)> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut d = Digesting::new(file);
    io::copy(&mut d, &mut io::sink()).map_err(|e| Error::io("read", path, e))?;
    Ok((d.sha256(), d.byte_count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_never_write_over_or_into_their_input() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        std::fs::write(&a, "x").unwrap();
        assert!(refuse_overwrite(&a, &a).is_err());
        assert!(refuse_overwrite(&a, &dir.path().join(".").join("a.csv")).is_err());
        assert!(refuse_overwrite(dir.path(), &dir.path().join("out")).is_err());
        assert!(refuse_overwrite(&a, &dir.path().join("b.csv")).is_ok());
        let e = refuse_overwrite(&a, &a).unwrap_err().to_string();
        assert!(e.contains("never writes over its input"), "{e}");
    }

    #[test]
    fn uncommitted_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        {
            let out = AtomicOutput::create(&target, false).unwrap();
            out.file().unwrap().write_all(b"partial").unwrap();
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_renames_and_refuses_to_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        write_atomic(&target, b"one", false).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"one");
        assert!(matches!(
            write_atomic(&target, b"two", false),
            Err(Error::OutputExists { .. })
        ));
        write_atomic(&target, b"two", true).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
    }

    #[test]
    fn digest_matches_known_vector() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let (sha, n) = digest_file(&p).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
