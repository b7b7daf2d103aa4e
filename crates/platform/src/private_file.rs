//! Files that only their owner may read, replaced atomically.
//!
//! Used for everything IoT Hub Setup writes that a person should not find half-written or
//! readable by other local users: the vault's index and encrypted hand-off files.

use std::io::{self, Write};
use std::path::Path;

/// Writes `contents` to `path` through a temporary file in the same folder that is then
/// renamed over `path`, so readers see the old file or the new one, never a mix.
///
/// On Unix the file has mode 0600 (tempfile creates it so, and a rename keeps the mode). On
/// Windows its access list names only the current user, set before anything is written, so
/// a file saved outside the user's profile (an export to a shared folder) stays private too.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let write = || {
        let mut temp = tempfile::Builder::new()
            .prefix(".hubsetup-")
            .tempfile_in(folder)?;
        #[cfg(windows)]
        crate::windows_acl::restrict_to_current_user(temp.path())?;
        temp.write_all(contents)?;
        temp.as_file().sync_all()?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(without_temporary_path)
}

/// tempfile appends " at path …" with its temporary file's name, which means nothing to the
/// person reading the message; the operating system's own words before it say what went wrong.
fn without_temporary_path(error: io::Error) -> io::Error {
    let text = error.to_string();
    match text.split_once(" at path ") {
        Some((reason, _)) => io::Error::new(error.kind(), reason),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_may_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, b"old, world-readable").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomically(&path, b"new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_missing_folder_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let error = write_atomically(&dir.path().join("no/such/out.txt"), b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        // The operating system's own words (Windows: error 3, path not found), without
        // tempfile's temporary name.
        let code = if cfg!(windows) { 3 } else { 2 };
        assert_eq!(
            error.to_string(),
            io::Error::from_raw_os_error(code).to_string()
        );
        assert!(!error.to_string().contains(".hubsetup-"), "{error}");
    }

    #[cfg(windows)]
    #[test]
    fn only_the_current_user_may_open_it() {
        use crate::windows_acl::tests::assert_only_the_current_user_may_open;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.asc");
        std::fs::write(&path, b"old, readable as the folder allows").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_only_the_current_user_may_open(&path);
    }
}
