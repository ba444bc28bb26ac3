//! Benchmark (not a test): creates N environments against the local control plane and
//! emulator, then prints the operator's peak RSS, time from apply to Ready (median, p95)
//! and AWS calls per environment per steady-state resync (reads and writes, from the
//! operator's own metrics). It never fails on a figure. Run it with `make bench`.

use std::time::{Duration, Instant};

use anyhow::Context;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::{TestEnv, is_ready, sum_metric};

struct Args {
    environments: usize,
    metrics_port: u16,
    operator_pid: u32,
    resync_seconds: u64,
    resyncs: u64,
}

fn args() -> anyhow::Result<Args> {
    let get = |k: &str| {
        std::env::var(k).with_context(|| format!("{k} is not set (run e2e/bench/run.sh)"))
    };
    Ok(Args {
        environments: get("BENCH_ENVIRONMENTS")?.parse()?,
        metrics_port: get("BENCH_METRICS_PORT")?.parse()?,
        operator_pid: get("BENCH_OPERATOR_PID")?.parse()?,
        resync_seconds: get("BENCH_RESYNC_SECONDS")?.parse()?,
        resyncs: get("BENCH_RESYNCS")?.parse()?,
    })
}

/// Peak resident set size (VmHWM) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
    Ok(line.split_whitespace().nth(1).context("bad VmHWM")?.parse()?)
}

async fn metrics(port: u16) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf).to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("bench").await?;
    println!("benchmark: {} environments in namespace {ns}", a.environments);

    let mut applied = Vec::new();
    for i in 0..a.environments {
        let name = format!("env-{i:03}");
        env.apply_yaml(&ns, &EnvironmentManifest::new(&name).yaml()).await?;
        applied.push((name, Instant::now()));
    }
    let mut ready_after: Vec<Option<f64>> = vec![None; applied.len()];
    let api = env.environments(&ns);
    let deadline = Instant::now() + Duration::from_secs(900);
    while ready_after.iter().any(Option::is_none) && Instant::now() < deadline {
        for (i, (name, t0)) in applied.iter().enumerate() {
            if ready_after[i].is_none() && is_ready(&api.get(name).await?) {
                ready_after[i] = Some(t0.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut times: Vec<f64> = ready_after.iter().flatten().copied().collect();
    times.sort_by(f64::total_cmp);
    let not_ready = a.environments - times.len();

    // Steady state: let every environment settle, then count calls over whole resyncs.
    tokio::time::sleep(Duration::from_secs(a.resync_seconds)).await;
    let before = metrics(a.metrics_port).await?;
    let window = a.resync_seconds * a.resyncs;
    tokio::time::sleep(Duration::from_secs(window)).await;
    let after = metrics(a.metrics_port).await?;
    let delta = |kind: &str| {
        let f = "redcap_operator_aws_calls_total";
        let l = format!("kind=\"{kind}\"");
        sum_metric(&after, f, &l) - sum_metric(&before, f, &l)
    };
    let per_env_resync = |n: f64| n / a.environments as f64 / a.resyncs as f64;
    let rss_mib = peak_rss_kib(a.operator_pid)? as f64 / 1024.0;

    println!();
    println!("| figure | value |");
    println!("| --- | --- |");
    println!("| environments | {} ({} not Ready within 15 min) |", a.environments, not_ready);
    println!("| operator peak RSS (VmHWM) | {rss_mib:.1} MiB |");
    println!("| apply to Ready, median | {:.2} s |", percentile(&times, 0.5));
    println!("| apply to Ready, p95 | {:.2} s |", percentile(&times, 0.95));
    println!("| apply to Ready, max | {:.2} s |", times.last().copied().unwrap_or(f64::NAN));
    println!(
        "| AWS reads per environment per steady-state resync | {:.1} |",
        per_env_resync(delta("read"))
    );
    println!(
        "| AWS writes per environment per steady-state resync | {:.1} |",
        per_env_resync(delta("write"))
    );
    println!("| steady-state window | {} resyncs of {} s |", a.resyncs, a.resync_seconds);
    Ok(())
}
