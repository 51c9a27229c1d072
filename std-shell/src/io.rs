//! Inputs and outputs of the command line: `IN`/`OUT` default to stdin and
//! stdout; `-o FILE` is written to a temporary name beside it and renamed
//! only on success, so a failed run never leaves a partial file. (File
//! helpers for veil's own files are in [`crate::fs`].)

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::Error;

/// Opens `IN`: a path, or stdin when absent or `-`.
///
/// # Errors
///
/// [`Error::Read`] when the file cannot be opened.
pub fn open_input(path: Option<&Path>) -> Result<Box<dyn Read>, Error> {
    match path {
        None => Ok(Box::new(io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(io::stdin().lock())),
        Some(p) => File::open(p)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|source| Error::Read {
                path: p.to_owned(),
                source,
            }),
    }
}

/// Opens a ciphertext to decrypt, as [`open_input`]; a regular file that is
/// armored must end with its END line, checked before anything is opened
/// ([`crate::timelock::armor::check_armor_end`]).
///
/// # Errors
///
/// [`Error::Read`], or [`Error::Content`] for truncated armor.
pub fn open_ciphertext(path: Option<&Path>) -> Result<Box<dyn Read>, Error> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let read_err = |source| Error::Read {
                path: p.to_owned(),
                source,
            };
            let mut file = File::open(p).map_err(read_err)?;
            if file.metadata().map_err(read_err)?.is_file() {
                crate::timelock::armor::check_armor_end(&mut file)?;
            }
            Ok(Box::new(file))
        }
        _ => open_input(path),
    }
}

/// Where output goes: stdout, or a temporary file renamed into place by
/// [`Output::commit`]. Dropped without a commit, the temporary file is removed.
pub struct Output {
    inner: OutputInner,
}

enum OutputInner {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    File {
        writer: Option<BufWriter<File>>,
        tmp: PathBuf,
        dest: PathBuf,
    },
}

impl Output {
    /// `-o FILE` when given, otherwise stdout.
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when the temporary file cannot be created.
    pub fn create(path: Option<&Path>) -> Result<Self, Error> {
        let Some(dest) = path.filter(|p| p.as_os_str() != "-") else {
            return Ok(Self {
                inner: OutputInner::Stdout(BufWriter::new(io::stdout().lock())),
            });
        };
        let name = dest
            .file_name()
            .ok_or_else(|| Error::value("-o", format!("{} is not a file path", dest.display())))?;
        // An unpredictable name, created new: nobody can plant a link there.
        let mut r = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".veil-tmp-{}", hex::encode(r)));
        let tmp = dest.with_file_name(tmp_name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| Error::Write {
                path: tmp.clone(),
                source,
            })?;
        Ok(Self {
            inner: OutputInner::File {
                writer: Some(BufWriter::new(file)),
                tmp,
                dest: dest.to_owned(),
            },
        })
    }

    /// Flushes and, for a file, renames it into place.
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when flushing, syncing or renaming fails.
    pub fn commit(mut self) -> Result<(), Error> {
        match &mut self.inner {
            OutputInner::Stdout(w) => w.flush().map_err(Error::io("writing to stdout")),
            OutputInner::File { writer, tmp, dest } => {
                let write_err = |source| Error::Write {
                    path: dest.clone(),
                    source,
                };
                if let Some(w) = writer.take() {
                    let file = w.into_inner().map_err(|e| write_err(e.into_error()))?;
                    file.sync_all().map_err(write_err)?;
                }
                std::fs::rename(&*tmp, &*dest).map_err(write_err)
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            OutputInner::Stdout(w) => w.write(buf),
            OutputInner::File {
                writer: Some(w), ..
            } => w.write(buf),
            OutputInner::File { writer: None, .. } => {
                Err(io::Error::other("output already committed"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            OutputInner::Stdout(w) => w.flush(),
            OutputInner::File {
                writer: Some(w), ..
            } => w.flush(),
            OutputInner::File { writer: None, .. } => Ok(()),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let OutputInner::File {
            writer: Some(_),
            tmp,
            ..
        } = &self.inner
        {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
