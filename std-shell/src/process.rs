//! Child processes, and what the process itself lets others see.
//!
//! A child veil starts (the external generator, `kill`) begins from a
//! cleared environment plus an allow-list ([`PASSED_ENV`] and the names an
//! operator adds): the bucket's write secret, [`crate::keys::SEED_ENV`] and
//! anything else in veil's environment never reach it. Long-running
//! commands also make themselves non-dumpable ([`harden`]), so a process
//! of the same user (a generator among them) cannot read their memory,
//! environment or command line through `/proc` or attach a debugger.

use std::ffi::OsStr;
use std::process::Command;

use crate::Error;

/// What a child is given from veil's environment: the basics of a shell
/// (search path, home, locale, time zone, temporary directory) and what a
/// model needs to find its GPU, libraries and caches.
pub const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_HOME",
    "CUDA_PATH",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "PYTORCH_CUDA_ALLOC_CONF",
    "OMP_NUM_THREADS",
    "HF_HOME",
    "HF_HUB_OFFLINE",
    "TORCH_HOME",
    "XDG_CACHE_HOME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
];

/// Names no child is ever given, even when an operator asks: veil's own
/// secrets.
const NEVER_PASSED: &[&str] = &[
    crate::keys::SEED_ENV,
    "R2_READ_SECRET_ACCESS_KEY",
    "R2_WRITE_SECRET_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Checks the variables an operator names for a child (`--generator-env`).
///
/// # Errors
///
/// [`Error::Value`] for a name that is not a variable name, or one of
/// veil's secrets.
pub fn check_passed_names(flag: &'static str, names: &[String]) -> Result<(), Error> {
    for name in names {
        let well_formed = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !well_formed {
            return Err(Error::value(
                flag,
                format!("{name:?} is not a variable name"),
            ));
        }
        if NEVER_PASSED.contains(&name.as_str()) {
            return Err(Error::value(
                flag,
                format!("{name} holds one of veil's secrets: it is never passed to a child"),
            ));
        }
    }
    Ok(())
}

/// `program`, to be started with a cleared environment holding only the
/// [`PASSED_ENV`] variables and `extra` (each when veil has it).
pub fn child(program: impl AsRef<OsStr>, extra: &[String]) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    let names = PASSED_ENV
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str));
    for name in names {
        if NEVER_PASSED.contains(&name) {
            continue;
        }
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// Makes this process non-dumpable (Linux): no core dumps, and no process
/// of the same user may read its memory, environment or command line
/// under `/proc`, or attach to it. Elsewhere, nothing.
///
/// # Errors
///
/// [`Error::Content`] when the kernel refuses.
pub fn harden() -> Result<(), Error> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .map_err(|e| Error::Content(format!("cannot make the process non-dumpable: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_only_the_allow_list() {
        let out = child(
            "env",
            &["VEIL_TEST_PASSED".to_owned(), "VEIL_SEED".to_owned()],
        )
        .env("VEIL_TEST_SET_BY_CALLER", "1")
        .output()
        .expect("env runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let names: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
        for name in &names {
            assert!(
                PASSED_ENV.contains(name) || *name == "VEIL_TEST_SET_BY_CALLER",
                "{name} reached the child"
            );
        }
        assert!(names.contains(&"VEIL_TEST_SET_BY_CALLER"));
    }

    #[test]
    fn secrets_and_bad_names_cannot_be_passed() {
        for bad in [
            "VEIL_SEED",
            "R2_WRITE_SECRET_ACCESS_KEY",
            "",
            "1X",
            "A-B",
            "A=B",
        ] {
            assert!(
                check_passed_names("--generator-env", &[bad.to_owned()]).is_err(),
                "{bad:?} was accepted"
            );
        }
        check_passed_names("--generator-env", &["HF_TOKEN".to_owned()]).expect("a plain name");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn harden_makes_the_process_non_dumpable() {
        harden().expect("prctl");
        assert_eq!(
            rustix::process::dumpable_behavior().expect("prctl"),
            rustix::process::DumpableBehavior::NotDumpable
        );
        // Set back: other tests of this process may want core dumps.
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)
            .expect("prctl");
    }
}
