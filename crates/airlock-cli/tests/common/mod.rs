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
