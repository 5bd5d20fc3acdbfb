//! Checks on the run folder before training starts: a run must not fail hours in because its
//! folder cannot be written or its disk cannot hold a checkpoint.

use std::io::Write;
use std::path::Path;

use crate::error::TrainError;

/// Bytes a run of a model with `params` float32 parameters needs free: two checkpoints (the one
/// being written beside the last one; model + optimiser state of up to two moments, 3× the
/// parameters each) and the final model as `.bpk` and `.safetensors` (2×): 8 × 4 bytes per
/// parameter, plus 16 MiB for metrics, plots and records.
pub fn bytes_needed(params: usize) -> u64 {
    8 * 4 * params as u64 + 16 * 1024 * 1024
}

/// Creates `dir` if needed, proves it writable by writing, syncing and removing a probe file,
/// and checks that its filesystem has `needed` bytes free. Errors name the folder and say what
/// to do.
pub fn check_run_folder(dir: &Path, needed: u64) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        TrainError::RunFolder(format!("cannot create run folder {}: {e}", dir.display()))
    })?;
    let probe = dir.join(".skipnet-write-probe");
    let written = std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(&[0u8; 4096]).and_then(|()| f.sync_all()));
    let _ = std::fs::remove_file(&probe);
    written.map_err(|e| {
        TrainError::RunFolder(format!(
            "run folder {} is not writable ({e}); choose another `dir`",
            dir.display()
        ))
    })?;
    check_free_space(dir, needed)
}

/// Checks that the filesystem holding `dir` has `needed` bytes free (no-op where the platform
/// cannot tell).
pub fn check_free_space(dir: &Path, needed: u64) -> Result<(), TrainError> {
    if let Some(free) = free_bytes(dir)
        && free < needed
    {
        return Err(TrainError::RunFolder(format!(
            "run folder {}: only {} free on its filesystem, and a run of this model needs about {} \
             (checkpoints and the final model); free some space or choose another `dir`",
            dir.display(),
            human(free),
            human(needed)
        )));
    }
    Ok(())
}

/// Bytes available to an unprivileged user on the filesystem holding `dir` (`None` where the
/// platform cannot tell).
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `stat` is a properly sized out-buffer
    // that statvfs fills completely when it returns 0.
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return None;
        }
        stat.assume_init()
    };
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

fn human(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= 1024.0 * MB {
        format!("{:.1} GiB", bytes as f64 / (1024.0 * MB))
    } else {
        format!("{:.0} MiB", bytes as f64 / MB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_folder_with_room_passes_and_is_left_clean() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/a");
        check_run_folder(&run, 1).unwrap();
        assert_eq!(std::fs::read_dir(&run).unwrap().count(), 0, "probe removed");
        assert!(free_bytes(&run).unwrap() > 0);
    }

    #[test]
    fn too_little_space_is_an_error_with_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_run_folder(dir.path(), u64::MAX)
            .unwrap_err()
            .to_string();
        assert!(err.contains("free on its filesystem"), "{err}");
        assert!(err.contains("GiB"), "{err}");
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        // /proc refuses new files even to root.
        let err = check_run_folder(Path::new("/proc/self"), 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/proc/self") && err.contains("not writable"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = check_run_folder(&file.join("run"), 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot create run folder"), "{err}");
    }

    #[test]
    fn needs_grow_with_the_model() {
        assert_eq!(bytes_needed(0), 16 * 1024 * 1024);
        assert!(bytes_needed(25_557_032) > 800_000_000);
    }
}
