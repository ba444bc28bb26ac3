//! The local kube-apiserver, disturbed on purpose: paused (SIGSTOP: it accepts
//! connections but answers nothing, like a hung control plane) or killed and started
//! again (a crash, or a managed control-plane upgrade), the way `e2e/scripts/cluster.sh`
//! started it.
//!
//! Every test of the suite shares the one API server, and cargo runs the tests of one
//! binary side by side: a test that disturbs it holds [`exclusive`] for its whole run, and
//! lives in a binary of its own (cargo runs binaries one after another).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::{Mutex, MutexGuard};

use crate::TestEnv;

static CONTROL_PLANE: Mutex<()> = Mutex::const_new(());

/// Held by a test that pauses or restarts the API server, so that the other tests of its
/// binary do not run meanwhile.
pub async fn exclusive() -> MutexGuard<'static, ()> {
    CONTROL_PLANE.lock().await
}

/// The kube-apiserver `cluster.sh up` started for the test environment.
pub struct ApiServer {
    state_dir: PathBuf,
}

impl ApiServer {
    pub fn of(env: &TestEnv) -> Self {
        Self { state_dir: env.state_dir.clone() }
    }

    /// Its process id, from the pid file `cluster.sh` writes (`kube-apiserver.pid`).
    pub fn pid(&self) -> anyhow::Result<u32> {
        let file = self.state_dir.join("kube-apiserver.pid");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        text.trim().parse().with_context(|| format!("{} holds no pid: {text:?}", file.display()))
    }

    /// Stops the process (SIGSTOP) until the guard is dropped (SIGCONT), also when the
    /// test fails in between.
    pub fn pause(&self) -> anyhow::Result<Paused> {
        let pid = self.pid()?;
        signal("STOP", pid)?;
        Ok(Paused { pid, since: Instant::now() })
    }

    /// Kills the process (SIGKILL), leaves it down for `down_for`, starts it again with
    /// `cluster.sh start-apiserver` (same port and flags) and waits until it is ready.
    /// Returns how long it did not answer: from the kill until ready again.
    pub async fn kill_and_restart(&self, down_for: Duration) -> anyhow::Result<Duration> {
        let killed = Instant::now();
        cluster(&self.state_dir, "kill-apiserver").await?;
        tokio::time::sleep(down_for.saturating_sub(killed.elapsed())).await;
        cluster(&self.state_dir, "start-apiserver").await?;
        Ok(killed.elapsed())
    }
}

/// A paused API server; dropping the guard resumes it.
#[must_use = "the API server resumes when the guard is dropped"]
pub struct Paused {
    pid: u32,
    since: Instant,
}

impl Paused {
    /// When the API server stopped answering.
    pub fn since(&self) -> Instant {
        self.since
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if let Err(err) = signal("CONT", self.pid) {
            eprintln!("could not resume the kube-apiserver (pid {}): {err:#}", self.pid);
        }
    }
}

fn signal(name: &str, pid: u32) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .with_context(|| format!("running kill -{name} {pid}"))?;
    if !status.success() {
        bail!("kill -{name} {pid} failed: {status}");
    }
    Ok(())
}

async fn cluster(state_dir: &Path, command: &str) -> anyhow::Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster.sh");
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .arg(command)
        .arg(state_dir)
        .status()
        .await
        .with_context(|| format!("running cluster.sh {command}"))?;
    if !status.success() {
        bail!("cluster.sh {command} {} failed: {status}", state_dir.display());
    }
    Ok(())
}
