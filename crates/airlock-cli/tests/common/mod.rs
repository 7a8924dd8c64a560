//! Helpers shared by the end-to-end test files.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The binary in a clean environment, run from `dir`.
pub fn airlock(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("airlock").unwrap();
    cmd.current_dir(dir)
        .env_remove("AIRLOCK_KEY_FILE")
        .env_remove("AIRLOCK_SERVER")
        .env_remove("AIRLOCK_CA")
        .env_remove("AIRLOCK_CERT")
        .env_remove("AIRLOCK_CERT_KEY")
        .env_remove("AIRLOCK_API_KEY")
        .env_remove("NO_COLOR")
        .env("HOME", dir);
    cmd
}

/// The adult table (vendored in airlock-risk, semicolons) written to `dir/adult.csv` as CSV.
pub fn adult(dir: &Path) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../airlock-risk/tests/data/adult/adult.csv");
    let text = std::fs::read_to_string(src).unwrap().replace(';', ",");
    let out = dir.join("adult.csv");
    std::fs::write(&out, text).unwrap();
    out
}

pub fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let _ = (path, mode);
}

/// Compares with a golden file, or writes it when AIRLOCK_BLESS=1.
pub fn golden(name: &str, actual: &str) {
    let path = fixtures().join("golden").join(name);
    if std::env::var_os("AIRLOCK_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// Copies a table into another file and format through the library's own reader and writer.
pub fn convert_table(
    input: &Path,
    from: airlock_core::table::Format,
    output: &Path,
    to: airlock_core::table::Format,
) {
    use airlock_core::table::{TableReader, TableWriter};
    let mut reader = TableReader::open(input, from, 1024).unwrap();
    let file = std::fs::File::create(output).unwrap();
    let mut writer = TableWriter::new(file, output, to, reader.schema()).unwrap();
    while let Some(batch) = reader.next_batch().unwrap() {
        writer.write(&batch).unwrap();
    }
    writer.finish().unwrap();
}

/// A child process killed when dropped (a server a test started).
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Starts `airlock ARGS --ready-file F` in `dir` (stdout and stderr to `NAME.out` and
    /// `NAME.err` there) and waits for the URL it writes; a process that ends first fails the
    /// test with its stderr.
    pub fn serve(dir: &Path, name: &str, args: &[&str]) -> (Self, String) {
        let ready = dir.join(format!("{name}.ready"));
        let _ = std::fs::remove_file(&ready);
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("airlock"))
            .args(args)
            .arg("--ready-file")
            .arg(&ready)
            .current_dir(dir)
            .stdout(std::fs::File::create(dir.join(format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).unwrap())
            .spawn()
            .unwrap();
        let mut p = Self(child);
        let start = std::time::Instant::now();
        while !ready.exists() {
            if let Some(status) = p.0.try_wait().unwrap() {
                panic!(
                    "{name} ended with {status}: {}",
                    std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "{name} did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let url = std::fs::read_to_string(&ready).unwrap();
        (p, url)
    }

    /// SIGTERM, and a clean end (the server writes its last entries first).
    pub fn terminate(mut self) {
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                assert!(status.success(), "ended with {status}");
                return;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// The vault's datasets whose names begin with `prefix` (`airlock vault ls` run in `dir`).
pub fn sealed_datasets(dir: &Path, prefix: &str) -> Vec<serde_json::Value> {
    let out = airlock(dir)
        .args(["--json", "vault", "ls"])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listed["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|ds| ds["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .cloned()
        .collect()
}

/// The last `chars` characters of `text` (what a failure message shows of a long output).
pub fn last_chars(text: &str, chars: usize) -> &str {
    &text[text.char_indices().rev().nth(chars).map_or(0, |(i, _)| i)..]
}

/// Fails when any file under `dir` holds `text` in the clear.
pub fn nowhere_in_clear(dir: &Path, text: &str) {
    let grep = std::process::Command::new("grep")
        .args(["-rl", text])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        grep.stdout.is_empty(),
        "in the clear: {}",
        String::from_utf8_lossy(&grep.stdout)
    );
}

/// `airlock --json ARGS` in `dir` as a steward releasing data: the exit code and the JSON
/// printed (null when there is none).
pub fn steward_json(dir: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = airlock(dir)
        .arg("--json")
        .args(args)
        .env("AIRLOCK_ROLE", "steward")
        .env("AIRLOCK_PURPOSE", "release")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), v)
}
