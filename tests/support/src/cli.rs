//! The `veil` binary under the CLI contract (SPEC.md): exit 0 on success;
//! 1 on any failure of content, cryptography, verification or I/O, with
//! exactly one line on stderr (`veil: …`) and nothing on stdout; 2 only for
//! command-line syntax errors.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs `cmd` with `stdin` fed from memory, returning its output.
///
/// # Panics
///
/// When the command cannot be started.
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let data = stdin.to_vec();
    // Write from a thread so a program that prints before reading cannot deadlock.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for the command");
    writer.join().expect("stdin writer");
    out
}

/// The `veil` binary with the environment a test wants.
#[derive(Clone, Debug)]
pub struct Veil {
    bin: PathBuf,
    env: Vec<(OsString, Option<OsString>)>,
}

impl Veil {
    /// The binary at `bin` (`env!("CARGO_BIN_EXE_veil")` in the veil
    /// package's tests), without `RUST_BACKTRACE`.
    pub fn at(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            env: vec![("RUST_BACKTRACE".into(), None)],
        }
    }

    /// Sets `key` for every run.
    #[must_use]
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes `key` for every run.
    #[must_use]
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.push((key.into(), None));
        self
    }

    /// The command, ready for more arguments.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args);
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }

    /// Runs `veil ARGS` with `stdin`.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with_stdin(&mut self.command(args), stdin)
    }

    /// Success: exit 0 and nothing on stderr; returns stdout.
    ///
    /// # Panics
    ///
    /// On any other outcome.
    #[track_caller]
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(out.stderr.is_empty(), "{args:?}: stderr {stderr:?}");
        out.stdout
    }

    /// Failure with `code`: nothing on stdout, exactly one line on stderr,
    /// starting `veil: `, no panic or backtrace; returns that line.
    ///
    /// # Panics
    ///
    /// On any other outcome.
    #[track_caller]
    pub fn fails_with(&self, code: i32, args: &[&str], stdin: &[u8]) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: stdout not empty: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.ends_with('\n') && stderr.matches('\n').count() == 1,
            "{args:?}: not one line: {stderr:?}"
        );
        assert!(stderr.starts_with("veil: "), "{args:?}: {stderr:?}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{args:?}: {stderr}"
        );
        stderr
    }

    /// A failure of content (exit 1); see [`Veil::fails_with`].
    ///
    /// # Panics
    ///
    /// On any other outcome.
    #[track_caller]
    pub fn fails(&self, args: &[&str], stdin: &[u8]) -> String {
        self.fails_with(1, args, stdin)
    }
}
