//! The external generator: an operator-supplied command (a real model),
//! driven by a small file-and-JSON protocol.
//!
//! ## The protocol
//!
//! This is the contract for model authors.
//!
//! ```text
//! veil runs:        sh -c CMD
//!                   once per job (one base image, N variations), in its own
//!                   process group, in the job's private directory as its
//!                   working directory, with a cleared environment holding
//!                   only PATH, HOME, the locale, the GPU and model-cache
//!                   variables of `process::PASSED_ENV` and those the operator
//!                   names (`--generator-env NAME`); veil's secrets (the seed,
//!                   the bucket's keys) are never among them
//! stdin:            one JSON document, then end of file:
//!   {"version": 1,
//!    "base_image": "/abs/tmp/veil-gen-XXXX/base.png",   (or base.jpg: the bytes the validator sent)
//!    "base_filename": "face-01.png",                    (the validator's name for it; informative only)
//!    "daily_seed_image": "/abs/tmp/veil-gen-XXXX/daily-seed.png",  (only when the validator sent one)
//!    "daily_seed_filename": "seed-2026-12-04.png",      (likewise)
//!    "challenge_id": "...",
//!    "out_dir": "/abs/tmp/veil-gen-XXXX/out",
//!    "variations": [{"index": 0, "type": "lighting_edit", "intensity": "medium",
//!                    "description": "...", "detail": "...", "seed": "<64 hex chars>"}, ...]}
//! output:           for each variation it made, the file {out_dir}/{index}.png:
//!                   a PNG (or a JPEG, which veil re-encodes as PNG) within veil's
//!                   image limits; a missing or invalid file fails that variation only
//! exit status:      0 on success; anything else fails every variation of the job,
//!                   with the last non-empty line of stderr in the error message
//! stdout:           ignored
//! timeout:          the whole process group is killed (SIGKILL) when it runs longer
//!                   than the configured timeout, or as soon as the answer is no
//!                   longer wanted (the caller hung up, or its deadline passed);
//!                   every variation of the job fails
//! ```
//!
//! `seed` is the variation's secret seed (module docs of the generators:
//! keyed by the miner's generator key over the caller, the challenge, the
//! round and the index). A deterministic model **must** draw all its
//! randomness from it; a seed is never reused, so images made from it are
//! nobody else's to compute.
//!
//! The base image and `out_dir` live in a fresh directory readable by the
//! user only (mode 0700) under the system temporary directory; veil deletes
//! it after reading the outputs, so a command must not keep paths to it.
//! Every output file is refused from its size when larger than the
//! [`ImageLimits::max_bytes`] cap, then decoded with [`images::decode`]
//! under the same limits before it is accepted.
//!
//! [`External::generate`] blocks (it waits for the command); call it from a
//! blocking context (`tokio::task::spawn_blocking`), as with any generator.

use core::time::Duration;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Instant;

use super::{Cancel, Generator, Job, fail_all};
use crate::Error;
use crate::limits::GENERATOR_STDERR_TAIL;
use crate::phase4::images::{self, Format, ImageLimits};

/// How much of the command's stderr is kept (its end) for the error message.
const STDERR_TAIL: usize = GENERATOR_STDERR_TAIL;

/// A generator that runs an operator-supplied command (see "The external
/// command protocol" in the module docs).
#[derive(Clone, Debug)]
pub struct External {
    cmd: String,
    timeout: Duration,
    limits: ImageLimits,
    pass_env: Vec<String>,
}

impl External {
    /// `cmd` is run with `sh -c`; `timeout` bounds each job; `limits` bound
    /// each output image.
    pub fn new(cmd: String, timeout: Duration, limits: ImageLimits) -> Self {
        Self {
            cmd,
            timeout,
            limits,
            pass_env: Vec::new(),
        }
    }

    /// Also passes the variables `names` (when veil has them) to the
    /// command, beside [`crate::process::PASSED_ENV`].
    ///
    /// # Errors
    ///
    /// As [`crate::process::check_passed_names`].
    pub fn with_env(mut self, names: Vec<String>) -> Result<Self, Error> {
        crate::process::check_passed_names("--generator-env", &names)?;
        self.pass_env = names;
        Ok(self)
    }

    /// Runs the command for a job. `Err` fails every variation of the job.
    fn run(&self, job: &Job<'_>) -> Result<Vec<Result<Vec<u8>, Error>>, String> {
        let work = WorkDir::create().map_err(|e| e.to_string())?;
        let (base_path, base_bytes) = match Format::detect(job.base_bytes) {
            Ok(format) => (
                work.path().join(format!("base.{}", format.extension())),
                alloc::borrow::Cow::Borrowed(job.base_bytes),
            ),
            // Not PNG/JPEG bytes (a caller that only has pixels): hand over a PNG.
            Err(_) => (
                work.path().join("base.png"),
                alloc::borrow::Cow::Owned(images::encode_png(job.base).map_err(|e| e.to_string())?),
            ),
        };
        crate::fs::write_private_new(&base_path, &base_bytes).map_err(|e| e.to_string())?;
        let out_dir = work.path().join("out");
        crate::fs::create_private_dir(&out_dir).map_err(|source| {
            Error::Write {
                path: out_dir.clone(),
                source,
            }
            .to_string()
        })?;

        let variations: Vec<serde_json::Value> = job
            .variations
            .iter()
            .map(|v| {
                serde_json::json!({
                    "index": v.index,
                    "type": v.kind,
                    "intensity": v.intensity,
                    "description": v.description,
                    "detail": v.detail,
                    "seed": hex::encode(v.seed),
                })
            })
            .collect();
        let mut doc = serde_json::json!({
            "version": 1,
            "base_image": base_path.to_string_lossy(),
            "base_filename": job.base_filename,
            "challenge_id": job.challenge_id,
            "out_dir": out_dir.to_string_lossy(),
            "variations": variations,
        });
        if let Some((bytes, name)) = job.daily_seed {
            let ext = Format::detect(bytes).map_or("png", Format::extension);
            let path = work.path().join(format!("daily-seed.{ext}"));
            crate::fs::write_private_new(&path, bytes).map_err(|e| e.to_string())?;
            doc["daily_seed_image"] = path.to_string_lossy().into_owned().into();
            doc["daily_seed_filename"] = name.into();
        }
        let input = serde_json::to_vec(&doc).map_err(|e| format!("cannot write the job: {e}"))?;

        let started = Instant::now();
        let (status, stderr) = self.spawn_and_wait(input, work.path(), job.cancel)?;
        tracing::debug!(
            cmd = %self.cmd,
            elapsed_ms = started.elapsed().as_millis(),
            status = ?status,
            stderr = %String::from_utf8_lossy(&stderr),
            "generator command finished"
        );
        let status = match status {
            Ended::Exited(status) => status,
            Ended::TimedOut => {
                return Err(format!(
                    "the generator command timed out after {} and was killed",
                    fmt_duration(self.timeout)
                ));
            }
            Ended::Cancelled => {
                return Err(
                    "the answer was no longer wanted (the caller hung up or its deadline \
                     passed): the generator command was killed"
                        .to_owned(),
                );
            }
        };
        if !status.success() {
            return Err(failure_message(status, &stderr));
        }
        Ok(job
            .variations
            .iter()
            .map(|v| {
                self.collect(&out_dir, v.index)
                    .map_err(|msg| Error::Content(format!("variation {}: {msg}", v.index)))
            })
            .collect())
    }

    /// Starts the command in `dir`, feeds it `input`, and waits at most the
    /// timeout, or until `cancel` is set. Returns how it ended and the end
    /// of its stderr.
    fn spawn_and_wait(
        &self,
        input: Vec<u8>,
        dir: &Path,
        cancel: &Cancel,
    ) -> Result<(Ended, Vec<u8>), String> {
        let mut command = crate::process::child("sh", &self.pass_env);
        command
            .current_dir(dir)
            .arg("-c")
            .arg(&self.cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            // Its own process group, so a timeout kills whatever it started too.
            command.process_group(0);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start the generator command: {e}"))?;

        // Feed stdin and drain stderr on their own threads, so that neither a
        // command that ignores stdin nor a chatty stderr can block us.
        if let Some(mut stdin) = child.stdin.take() {
            let spawned = std::thread::Builder::new()
                .name("veil-gen-stdin".to_owned())
                .spawn(move || {
                    // A command that exits without reading gives EPIPE: fine.
                    let _ = stdin.write_all(&input);
                });
            if let Err(e) = spawned {
                kill_tree(&mut child);
                return Err(format!("cannot start a thread: {e}"));
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(mut stderr) = child.stderr.take() {
            let spawned = std::thread::Builder::new()
                .name("veil-gen-stderr".to_owned())
                .spawn(move || {
                    let _ = tx.send(read_tail(&mut stderr, STDERR_TAIL));
                });
            if let Err(e) = spawned {
                kill_tree(&mut child);
                return Err(format!("cannot start a thread: {e}"));
            }
        }

        let deadline = Instant::now().checked_add(self.timeout);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ended::Exited(status),
                Ok(None) => {}
                Err(e) => {
                    kill_tree(&mut child);
                    return Err(format!("cannot wait for the generator command: {e}"));
                }
            }
            let now = Instant::now();
            let left = deadline.map_or(Duration::from_millis(20), |d| {
                d.saturating_duration_since(now)
            });
            if left.is_zero() {
                kill_tree(&mut child);
                break Ended::TimedOut;
            }
            if cancel.is_cancelled() {
                kill_tree(&mut child);
                break Ended::Cancelled;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        };
        // A background process of the command may still hold stderr open:
        // wait for its end only briefly.
        let stderr = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
        Ok((status, stderr))
    }

    /// Reads and checks `{out_dir}/{index}.png`; the error is a message.
    fn collect(&self, out_dir: &Path, index: u32) -> Result<Vec<u8>, String> {
        let name = format!("{index}.png");
        let path = out_dir.join(&name);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("the generator command wrote no {name}"));
            }
            Err(e) => return Err(format!("cannot read {name}: {e}")),
        };
        if !meta.is_file() {
            return Err(format!("{name} is not a regular file"));
        }
        let bytes = match crate::fs::read_file_capped(&path, self.limits.max_bytes) {
            Ok(bytes) => bytes,
            Err(Error::FileTooLarge { max, .. }) => {
                return Err(format!("{name} is larger than {max} bytes"));
            }
            Err(Error::Read { source, .. }) => return Err(format!("cannot read {name}: {source}")),
            Err(e) => return Err(format!("{name}: {e}")),
        };
        let img = images::decode(&bytes, &self.limits).map_err(|e| format!("{name}: {e}"))?;
        match Format::detect(&bytes) {
            Ok(Format::Png) => Ok(bytes),
            _ => images::encode_png(&img).map_err(|e| format!("{name}: {e}")),
        }
    }
}

impl Generator for External {
    fn describe(&self) -> String {
        format!(
            "external command `{}` (timeout {})",
            self.cmd,
            fmt_duration(self.timeout)
        )
    }

    fn generate(&self, job: &Job<'_>) -> Vec<Result<Vec<u8>, Error>> {
        if job.variations.is_empty() {
            return Vec::new();
        }
        match self.run(job) {
            Ok(results) => results,
            Err(msg) => fail_all(job, &msg),
        }
    }
}

/// How the command's run ended.
#[derive(Debug)]
enum Ended {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
}

/// "exited with status 3: last stderr line".
fn failure_message(status: ExitStatus, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| {
            let l = crate::text::one_line(l);
            let mut cut: String = l.chars().take(300).collect();
            if cut.len() < l.len() {
                cut.push('…');
            }
            cut
        });
    let how = match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("was stopped ({status})"),
    };
    match last {
        Some(line) => format!("the generator command {how}: {line}"),
        None => format!("the generator command {how}"),
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Reads to the end, keeping only the last `cap` bytes.
fn read_tail(r: &mut impl std::io::Read, cap: usize) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                tail.extend_from_slice(buf.get(..n).unwrap_or_default());
                if tail.len() > 2 * cap {
                    tail.drain(..tail.len() - cap);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if tail.len() > cap {
        tail.drain(..tail.len() - cap);
    }
    tail
}

/// Kills the command and everything in its process group, and reaps it.
fn kill_tree(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // The child leads its own group (`process_group(0)`), and it is not
        // reaped yet, so its id cannot have been reused.
        let _ = crate::process::child("kill", &[])
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh private directory under the system temporary directory, removed
/// with its contents when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> Result<Self, Error> {
        use rand_core::RngCore as _;
        let tmp = std::path::absolute(std::env::temp_dir())
            .map_err(Error::io("finding the temporary directory"))?;
        for _ in 0..8 {
            let mut r = [0u8; 8];
            rand_core::OsRng.fill_bytes(&mut r);
            let path = tmp.join(format!("veil-gen-{}", hex::encode(r)));
            match crate::fs::create_private_dir(&path) {
                Ok(()) => return Ok(Self(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(Error::Write { path, source }),
            }
        }
        Err(Error::Write {
            path: tmp,
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        })
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{run, run_with_daily_seed, sample, seed, variation};
    use super::super::*;
    use super::*;

    // --- external command

    /// A shell snippet that sets $o (out_dir) and $b (base_image) from the JSON on stdin.
    const PARSE: &str = r#"j=$(cat); o=$(printf '%s' "$j" | sed 's/.*"out_dir":"\([^"]*\)".*/\1/'); b=$(printf '%s' "$j" | sed 's/.*"base_image":"\([^"]*\)".*/\1/');"#;

    fn external(script: &str, timeout_ms: u64) -> External {
        External::new(
            format!("{PARSE} {script}"),
            Duration::from_millis(timeout_ms),
            ImageLimits::default(),
        )
    }

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("veil-gen-test-{name}-{}", std::process::id()))
    }

    #[test]
    fn external_copies_are_accepted_and_the_work_dir_is_removed() {
        let (base, bytes) = sample("face-01.png");
        let record = scratch("record");
        let g = external(
            &format!(
                r#"printf '%s' "$j" > {rec}; cp "$b" "$o/0.png"; cp "$b" "$o/1.png"; echo progress"#,
                rec = record.display()
            ),
            20_000,
        );
        assert!(g.describe().starts_with("external command `"));
        let vars = [
            variation(0, "pose_edit", "light", 1),
            variation(1, "lighting_edit+pose_edit", "far", 2),
        ];
        let out = run(&g, &base, &bytes, &vars);
        assert_eq!(out[0].as_ref().unwrap(), &bytes);
        assert_eq!(out[1].as_ref().unwrap(), &bytes);

        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        std::fs::remove_file(&record).unwrap();
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["base_filename"], "face-01.png");
        assert_eq!(doc["challenge_id"], "challenge-1");
        assert_eq!(doc["variations"][1]["type"], "lighting_edit+pose_edit");
        assert_eq!(doc["variations"][1]["intensity"], "far");
        assert_eq!(doc["variations"][1]["index"], 1);
        assert_eq!(doc["variations"][1]["description"], "a test variation");
        assert_eq!(doc["variations"][0]["seed"], hex::encode(seed(1)));
        let base_path = PathBuf::from(doc["base_image"].as_str().unwrap());
        let out_dir = PathBuf::from(doc["out_dir"].as_str().unwrap());
        assert!(base_path.is_absolute() && base_path.ends_with("base.png"));
        assert_eq!(base_path.parent(), out_dir.parent());
        // Cleaned up.
        assert!(!out_dir.parent().unwrap().exists());
    }

    #[test]
    fn the_command_runs_in_its_job_dir_with_a_cleared_environment() {
        let (base, bytes) = sample("face-01.png");
        let record = scratch("env");
        let g = external(
            &format!(
                r#"env > {r}.env; pwd > {r}.pwd; cp "$b" "$o/0.png""#,
                r = record.display()
            ),
            20_000,
        )
        .with_env(vec!["VEIL_TEST_NAMED".to_owned()])
        .unwrap();
        let vars = [variation(0, "pose_edit", "light", 1)];
        assert!(run(&g, &base, &bytes, &vars)[0].is_ok());
        let env = std::fs::read_to_string(record.with_extension("env")).unwrap();
        let pwd = std::fs::read_to_string(record.with_extension("pwd")).unwrap();
        std::fs::remove_file(record.with_extension("env")).unwrap();
        std::fs::remove_file(record.with_extension("pwd")).unwrap();
        // sh itself sets PWD (and may set SHLVL, OLDPWD, _).
        let shell_own = ["PWD", "OLDPWD", "SHLVL", "_"];
        for name in env.lines().filter_map(|l| l.split('=').next()) {
            assert!(
                crate::process::PASSED_ENV.contains(&name) || shell_own.contains(&name),
                "{name} reached the generator command"
            );
        }
        assert!(
            pwd.trim().contains("veil-gen-"),
            "its working directory is the job's: {pwd}"
        );
        // veil's secrets cannot be named.
        assert!(
            external("true", 1000)
                .with_env(vec!["VEIL_SEED".to_owned()])
                .is_err()
        );
    }

    #[test]
    fn a_cancelled_job_kills_the_command_at_once() {
        let (base, bytes) = sample("face-01.png");
        let pid_file = scratch("cancel-pid");
        let g = external(
            &format!(r#"sleep 30 & echo $! > {p}; wait"#, p = pid_file.display()),
            60_000,
        );
        let vars = [variation(0, "pose_edit", "light", 1)];
        let cancel = Cancel::new();
        let job = Job {
            base: &base,
            base_bytes: &bytes,
            base_filename: "face-01.png",
            daily_seed: None,
            challenge_id: "challenge-1",
            variations: &vars,
            cancel: &cancel,
        };
        let started = Instant::now();
        let out = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                cancel.cancel();
            });
            g.generate(&job)
        });
        let took = started.elapsed();
        let err = out[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("no longer wanted"), "{err}");
        assert!(took < Duration::from_secs(10), "took {took:?}");
        // The command's own child is gone too (its process group was killed).
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        std::fs::remove_file(&pid_file).unwrap();
        let gone = (0..50).any(|_| {
            let alive = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .is_ok_and(|s| !s.contains(") Z "));
            if alive {
                std::thread::sleep(Duration::from_millis(20));
            }
            !alive
        });
        assert!(gone, "sleep {} outlived the cancelled job", pid.trim());
    }

    #[test]
    fn the_daily_seed_reaches_the_external_generator() {
        let (base, bytes) = sample("face-01.png");
        let (_, daily) = sample("face-08.jpg");
        let copy = scratch("daily-seed");
        let g = external(
            &format!(
                r#"d=$(printf '%s' "$j" | sed 's/.*"daily_seed_image":"\([^"]*\)".*/\1/'); n=$(printf '%s' "$j" | sed 's/.*"daily_seed_filename":"\([^"]*\)".*/\1/'); cp "$d" {c}; printf '%s' "$n" > {c}.name; cp "$b" "$o/0.png""#,
                c = copy.display()
            ),
            20_000,
        );
        let vars = [variation(0, "pose_edit", "light", 1)];
        let out = run_with_daily_seed(
            &g,
            &base,
            &bytes,
            &vars,
            Some((&daily, "seed-2026-12-04.jpg")),
        );
        assert!(out[0].is_ok());
        let name_file = copy.with_extension("name");
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            daily,
            "the day's seed, byte for byte"
        );
        assert_eq!(
            std::fs::read_to_string(&name_file).unwrap(),
            "seed-2026-12-04.jpg"
        );
        std::fs::remove_file(&copy).unwrap();
        std::fs::remove_file(&name_file).unwrap();
        // Without one, the input names none.
        let record = scratch("no-daily-seed");
        let g = external(
            &format!(
                r#"printf '%s' "$j" > {r}; cp "$b" "$o/0.png""#,
                r = record.display()
            ),
            20_000,
        );
        assert!(run(&g, &base, &bytes, &vars)[0].is_ok());
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        std::fs::remove_file(&record).unwrap();
        assert!(doc.get("daily_seed_image").is_none() && doc.get("daily_seed_filename").is_none());
    }

    #[test]
    fn external_jpeg_outputs_are_re_encoded_and_missing_ones_fail_alone() {
        let (base, bytes) = sample("face-08.jpg");
        let g = external(r#"case "$b" in *.jpg) cp "$b" "$o/0.png";; esac"#, 20_000);
        let vars = [
            variation(0, "pose_edit", "light", 1),
            variation(1, "pose_edit", "light", 2),
        ];
        let out = run(&g, &base, &bytes, &vars);
        let png = out[0].as_ref().unwrap();
        assert_eq!(Format::detect(png).unwrap(), Format::Png);
        assert_eq!(images::decode(png, &ImageLimits::default()).unwrap(), base);
        assert_eq!(
            out[1].as_ref().unwrap_err().to_string(),
            "variation 1: the generator command wrote no 1.png"
        );
    }

    #[test]
    fn external_failure_surfaces_stderr() {
        let (base, bytes) = sample("face-01.png");
        let g = external(
            r#"echo "loading model" >&2; echo "CUDA out of memory" >&2; exit 3"#,
            20_000,
        );
        let vars = [
            variation(4, "pose_edit", "light", 1),
            variation(9, "pose_edit", "far", 2),
        ];
        let out = run(&g, &base, &bytes, &vars);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 4: the generator command exited with status 3: CUDA out of memory"
        );
        assert!(
            out[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .starts_with("variation 9: ")
        );
    }

    #[test]
    fn external_timeout_kills_the_command() {
        let (base, bytes) = sample("face-01.png");
        let marker = scratch("late");
        let g = external(&format!("sleep 5; touch {}", marker.display()), 300);
        let t = Instant::now();
        let out = run(&g, &base, &bytes, &[variation(0, "pose_edit", "light", 1)]);
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 0: the generator command timed out after 300ms and was killed"
        );
        // The whole process group was killed: nothing runs on after the timeout.
        std::thread::sleep(Duration::from_millis(5500).saturating_sub(t.elapsed()));
        assert!(!marker.exists());
    }

    #[test]
    fn external_garbage_and_oversized_outputs_are_refused() {
        let (base, bytes) = sample("face-01.png");
        let g = external(
            r#"printf 'garbage' > "$o/0.png"; printf '\211PNG\r\n\032\nbroken' > "$o/1.png"; mkdir "$o/2.png"; cp "$b" "$o/3.png""#,
            20_000,
        );
        let vars: Vec<Variation<'_>> = (0..4)
            .map(|i| variation(i, "pose_edit", "light", 1))
            .collect();
        let out = run(&g, &base, &bytes, &vars);
        let msg = |i: usize| out[i].as_ref().unwrap_err().to_string();
        assert_eq!(
            msg(0),
            "variation 0: 0.png: not a PNG or JPEG image: found text"
        );
        assert!(
            msg(1).starts_with("variation 1: 1.png: invalid PNG image"),
            "{}",
            msg(1)
        );
        assert_eq!(msg(2), "variation 2: 2.png is not a regular file");
        assert!(out[3].is_ok());

        let small = External::new(
            format!(r#"{PARSE} cp "$b" "$o/0.png""#),
            Duration::from_secs(20),
            ImageLimits {
                max_bytes: 1000,
                ..ImageLimits::default()
            },
        );
        let out = run(&small, &base, &bytes, &vars[..1]);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 0: 0.png is larger than 1000 bytes"
        );
    }

    #[test]
    fn external_command_that_ignores_stdin_and_empty_jobs() {
        let (base, bytes) = sample("face-01.png");
        let g = External::new(
            "true".to_owned(),
            Duration::from_secs(20),
            ImageLimits::default(),
        );
        let out = run(&g, &base, &bytes, &[variation(0, "pose_edit", "light", 1)]);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "variation 0: the generator command wrote no 0.png"
        );
        assert!(run(&g, &base, &bytes, &[]).is_empty());
    }
}
