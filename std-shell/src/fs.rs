//! File helpers, written once: capped reads, private writes (atomic or
//! new), private directories.
//!
//! Reads are capped before the bytes are held: never more than `max + 1`
//! bytes are buffered, and a longer input is an error, never a truncation.
//! Everything veil writes on its own behalf (results, journals, keys,
//! spools, caches) is private to its owner (`0600` files, `0700`
//! directories) and written whole or not at all.

use std::fs::File;
use std::io::{self, Read, Write as _};
use std::path::Path;

use crate::Error;

/// Reads until `buf` is full or the input ends; returns how much was read.
///
/// # Errors
///
/// Any read error other than `Interrupted`.
pub fn read_full(r: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let Some(rest) = buf.get_mut(n..) else { break };
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads the whole input, refusing (without reading further) one longer
/// than `max` bytes.
///
/// # Errors
///
/// [`Error::InputTooLarge`], or [`Error::Io`] when reading fails.
pub fn read_capped(r: &mut (impl Read + ?Sized), max: usize) -> Result<Vec<u8>, Error> {
    read_capped_io(r, max)
        .map_err(Error::io("reading the input"))?
        .ok_or(Error::InputTooLarge { max })
}

/// The whole input, or `None` when it is longer than `max`.
fn read_capped_io(r: &mut (impl Read + ?Sized), max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    r.take(limit).read_to_end(&mut buf)?;
    Ok((buf.len() <= max).then_some(buf))
}

/// Reads at most `max` bytes of the file at `path`: a regular file larger
/// than that is refused from its size, without reading it, and no file is
/// read past `max + 1` bytes even if it grows meanwhile.
///
/// # Errors
///
/// [`Error::Read`] or [`Error::FileTooLarge`].
pub fn read_file_capped(path: &Path, max: usize) -> Result<Vec<u8>, Error> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let too_large = || Error::FileTooLarge {
        path: path.to_owned(),
        max,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_file() && meta.len() > u64::try_from(max).unwrap_or(u64::MAX) {
        return Err(too_large());
    }
    read_capped_io(&mut file, max)
        .map_err(read_err)?
        .ok_or_else(too_large)
}

/// Like [`read_file_capped`], for files veil itself wrote (a cache, a
/// spool): a symbolic link is not followed and anything but a regular
/// file is refused, before a byte is read (a FIFO is not waited on), and
/// the size is checked before reading.
///
/// # Errors
///
/// [`Error::Read`] (a link or a special file as `InvalidInput`) or
/// [`Error::FileTooLarge`].
pub fn read_own_file_capped(path: &Path, max: usize) -> Result<Vec<u8>, Error> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let mut file = opts.open(path).map_err(|e| {
        // O_NOFOLLOW on a link fails with ELOOP.
        if e.raw_os_error() == Some(libc::ELOOP) {
            read_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a symbolic link, not followed",
            ))
        } else {
            read_err(e)
        }
    })?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(read_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    if meta.len() > u64::try_from(max).unwrap_or(u64::MAX) {
        return Err(Error::FileTooLarge {
            path: path.to_owned(),
            max,
        });
    }
    read_capped_io(&mut file, max)
        .map_err(read_err)?
        .ok_or_else(|| Error::FileTooLarge {
            path: path.to_owned(),
            max,
        })
}

/// Like [`read_file_capped`], with a missing file read as `None`.
///
/// # Errors
///
/// As [`read_file_capped`], except for a file that does not exist.
pub fn read_file_capped_if_exists(path: &Path, max: usize) -> Result<Option<Vec<u8>>, Error> {
    match read_file_capped(path, max) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` all or nothing, readable by the owner only
/// (`0600`): a fresh, unpredictably named temporary file beside it is
/// written, synced and renamed over `path`, then the directory is synced
/// so the rename survives a crash. Concurrent writers never share a
/// temporary file.
///
/// # Errors
///
/// [`Error::Write`] naming `path`; no temporary file is left behind.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_private_atomic_io(path, bytes).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

fn write_private_atomic_io(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use rand_core::RngCore as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut r = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut r);
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(r)));
    let renamed = new_private_file(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed?;
    sync_dir(dir);
    Ok(())
}

/// Writes `bytes` to a new file at `path`, mode `0600`; fails if the path
/// exists (never replaces or follows what is there).
///
/// # Errors
///
/// [`Error::Write`] naming `path`.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    new_private_file(path)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })
}

/// Creates `path` for writing, readable by its owner only; never replaces
/// an existing file.
fn new_private_file(path: &Path) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Creates one directory, mode `0700`; fails if it exists.
///
/// # Errors
///
/// The OS error (`AlreadyExists` included, for callers that pick names).
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    private_dir_builder(false).create(path)
}

/// Creates `path` and its missing parents, each new one mode `0700`
/// (existing directories are left as they are).
///
/// # Errors
///
/// [`Error::Write`] naming `path`.
pub fn create_private_dir_all(path: &Path) -> Result<(), Error> {
    private_dir_builder(true)
        .create(path)
        .map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })
}

/// Creates `path` and its missing parents with the default mode (folders
/// the operator names for outputs that others may read, like reports).
///
/// # Errors
///
/// [`Error::Write`] naming `path`.
pub fn create_dir_all(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

fn private_dir_builder(recursive: bool) -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
}

/// Best effort: makes renames in `dir` durable.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("veil-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn own_files_are_never_links_fifos_or_devices() {
        let dir = std::env::temp_dir().join(format!("veil-fs-own-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        create_private_dir_all(&dir).unwrap();
        let plain = dir.join("plain");
        write_private_new(&plain, b"hello").unwrap();
        assert_eq!(read_own_file_capped(&plain, 5).unwrap(), b"hello");
        assert!(matches!(
            read_own_file_capped(&plain, 4),
            Err(Error::FileTooLarge { .. })
        ));
        let link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let err = read_own_file_capped(&link, 64).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        // A FIFO with no writer: refused at once, not waited on.
        let fifo = dir.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let err = read_own_file_capped(&fifo, 64).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn capped_reads_refuse_one_byte_more() {
        let dir = scratch("capped");
        let path = dir.join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_file_capped(&path, 5).unwrap(), b"12345");
        assert!(matches!(
            read_file_capped(&path, 4),
            Err(Error::FileTooLarge { max: 4, .. })
        ));
        assert!(matches!(
            read_capped(&mut &b"12345"[..], 4),
            Err(Error::InputTooLarge { max: 4 })
        ));
        assert_eq!(
            read_file_capped_if_exists(&dir.join("absent"), 4).unwrap(),
            None
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn private_writes_are_0600_and_new_files_never_replace() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = scratch("private");
        let path = dir.join("secret.json");
        write_private_atomic(&path, b"one").unwrap();
        write_private_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(write_private_new(&path, b"three").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // Nothing but the file itself is left in the folder.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let sub = dir.join("a/b");
        create_private_dir_all(&sub).unwrap();
        let mode = std::fs::metadata(&sub).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
