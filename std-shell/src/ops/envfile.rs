//! `.env` files, as docker compose and GRAIL's operators write them: one
//! `NAME=value` per line, `#` comments, an optional `export `, values
//! optionally in single or double quotes.
//!
//! Settings come from the command line first, then the environment, then
//! the file: a variable already set is never overridden. The file often
//! holds the bucket's keys, so it is read only when it is a regular file of
//! this user that nobody else may write (a file others could change would
//! let them choose where this process sends its data) — and at most
//! [`MAX_ENV_FILE`] bytes of it.

use std::path::Path;

use crate::Error;
use crate::limits::MAX_ENV_FILE;

/// The `NAME=value` pairs of the `.env` file at `path`.
///
/// # Errors
///
/// The file cannot be read, is not a regular file, is another user's or
/// writable by group or others, is larger than [`MAX_ENV_FILE`], or holds a
/// line that is not `NAME=value` (naming the line).
pub fn read(path: &Path) -> Result<Vec<(String, String)>, Error> {
    check_private(path)?;
    let bytes = crate::fs::read_own_file_capped(path, MAX_ENV_FILE)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Content(format!("{}: not UTF-8", path.display())))?;
    parse(&text)
        .map_err(|(line, why)| Error::Content(format!("{} line {line}: {why}", path.display())))
}

/// Owned by this user, a regular file, not writable by group or others.
pub(crate) fn check_private(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let refuse = |why: &str| {
        Err(Error::Content(format!(
            "{}: {why}: not read",
            path.display()
        )))
    };
    if !meta.file_type().is_file() {
        return refuse("not a regular file");
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return refuse("owned by another user");
    }
    if meta.mode() & 0o022 != 0 {
        return refuse("writable by group or others (chmod go-w)");
    }
    Ok(())
}

/// The pairs of `text`, or the first bad line (1-based) and why.
fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, &'static str)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (name, value) = line.split_once('=').ok_or((i + 1, "not NAME=value"))?;
        let name = name.trim();
        let valid_name = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err((i + 1, "the name must be letters, digits and _"));
        }
        let value = value.trim();
        let value = match value.as_bytes().first() {
            Some(q @ (b'"' | b'\'')) => {
                let inner = &value[1..];
                let end = inner
                    .find(char::from(*q))
                    .ok_or((i + 1, "an unterminated quote"))?;
                inner[..end].to_owned()
            }
            // An unquoted value ends at a comment.
            _ => value
                .split_once(" #")
                .map_or(value, |(v, _)| v)
                .trim_end()
                .to_owned(),
        };
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_style_lines() {
        let text = "# keys\nexport R2_ACCOUNT_ID=abc\nNETUID = 12 # the subnet\n\
                    BT_WALLET_COLD=\"my cold\"\nEMPTY=\nQUOTED='a # b'\n\n";
        let pairs = parse(text).unwrap();
        assert_eq!(
            pairs,
            [
                ("R2_ACCOUNT_ID".into(), "abc".into()),
                ("NETUID".into(), "12".into()),
                ("BT_WALLET_COLD".into(), "my cold".into()),
                ("EMPTY".into(), String::new()),
                ("QUOTED".into(), "a # b".into()),
            ]
        );
        assert_eq!(parse("JUST A LINE").unwrap_err().0, 1);
        assert_eq!(parse("OK=1\n1BAD=2").unwrap_err().0, 2);
        assert_eq!(parse("X=\"open").unwrap_err().0, 1);
    }

    #[test]
    fn only_a_private_file_of_this_user_is_read() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("veil-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, "A=1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path).unwrap(), [("A".into(), "1".into())]);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        let e = read(&dir).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
