//! Atomic file writes, the one mechanism every file of the project goes through: write a
//! temporary file beside the target, give it the mode a new file gets here (`0666` less the
//! umask), sync it, rename it into place and sync the folder. A reader (or a crash) sees the old
//! file or the complete new one, never a part.

use std::path::{Path, PathBuf};

/// The temporary file `path` is written to before [`commit`]: hidden, in the same folder (a
/// rename never crosses filesystems), unique to this process and call.
pub fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    folder(path).join(format!(".{name}.{}.{call}.tmp", std::process::id()))
}

/// The folder of `path` (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The mode of a new file here: `0666` less the process's umask (read from `/proc`; `022`
/// where it cannot be read).
#[cfg(unix)]
pub fn new_file_mode() -> u32 {
    let umask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line.split_whitespace().nth(1)?, 8).ok()
        })
        .unwrap_or(0o022);
    0o666 & !umask
}

/// Finishes an atomic write: `tmp` (complete) gets the new-file mode, is synced and renamed to
/// `path`, and the folder is synced. On error `tmp` is removed.
pub fn commit(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let result = (|| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(new_file_mode()))?;
        }
        std::fs::File::options().write(true).open(tmp)?.sync_all()?;
        std::fs::rename(tmp, path)?;
        // The rename is durable once the folder's entry is; some platforms cannot open a
        // folder for syncing, which is then not an error.
        if let Ok(dir) = std::fs::File::open(folder(path)) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Writes `bytes` to `path` atomically (creating its folder).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(folder(path))?;
    let tmp = temp_path(path);
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    commit(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_with_the_new_file_mode_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.bin");
        write_bytes(&path, b"first").unwrap();
        write_bytes(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, new_file_mode());
            // The same as a file created the ordinary way.
            let plain = dir.path().join("plain");
            std::fs::write(&plain, b"x").unwrap();
            let plain_mode = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, plain_mode);
        }
        let missing = dir.path().join("missing.tmp");
        assert!(commit(&missing, &dir.path().join("b")).is_err());
    }
}
