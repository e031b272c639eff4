//! A real Ballista cluster: one scheduler and two executors started as separate
//! `revleak cluster` processes on 127.0.0.1, a generated snapshot run through
//! them with `--engine ballista`, and the findings compared with the embedded
//! engine's. Every process is stopped by its own id when the test ends.
#![cfg(feature = "cluster")]

use crate::common;

use crate::common::{Finding, read_findings};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (by its pid) and reaped when dropped.
struct Process {
    name: String,
    child: Child,
}

impl Process {
    /// Runs `command` with its output in `logs/<name>.log`.
    fn spawn_command(name: &str, mut command: Command, logs: &Path) -> Process {
        let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
        let child = command
            .env("REVLEAK_LOG", "revleak=info,ballista=warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Process {
            name: name.into(),
            child,
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn still_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Cluster {
    scheduler_url: String,
    scheduler: Process,
    executors: Vec<Process>,
    logs: PathBuf,
}

impl Cluster {
    fn start(root: &Path, executors: usize) -> Cluster {
        Cluster::start_with_env(root, executors, &[])
    }

    /// A cluster whose processes have `env` besides the test's environment
    /// (an object store's endpoint and credentials).
    fn start_with_env(root: &Path, executors: usize, env: &[(String, String)]) -> Cluster {
        let logs = root.join("logs");
        let (bind, scheduler) = start_scheduler_with_env(&logs, env);
        let mut started = Vec::new();
        for i in 0..executors {
            let flight = free_ports(2);
            let work_dir = root.join(format!("executor-{i}"));
            let mut command = common::revleak_command();
            command.envs(env.iter().cloned());
            command.args([
                "cluster",
                "executor",
                "--scheduler",
                &bind,
                "--bind",
                &format!("127.0.0.1:{flight}"),
                "--work-dir",
                work_dir.to_str().unwrap(),
                "--concurrent-tasks",
                "2",
            ]);
            let mut executor = Process::spawn_command(&format!("executor-{i}"), command, &logs);
            wait_for_port(flight, &mut executor, &logs);
            started.push(executor);
        }
        // Registration follows the executor's start by one round trip.
        std::thread::sleep(Duration::from_secs(2));
        Cluster {
            scheduler_url: format!("df://{bind}"),
            scheduler,
            executors: started,
            logs,
        }
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&self.logs).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            all.push_str(&format!("--- {} (last lines)\n", path.display()));
            for line in tail.into_iter().rev() {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for e in &mut self.executors {
            e.stop();
        }
        self.scheduler.stop();
    }
}

/// A first port of `count` consecutive free ports (an executor takes PORT and
/// PORT + 1).
fn free_ports(count: u16) -> u16 {
    for _ in 0..200 {
        let first = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if first > u16::MAX - count {
            continue;
        }
        if (1..count).all(|i| TcpListener::bind(("127.0.0.1", first + i)).is_ok()) {
            return first;
        }
    }
    panic!("no {count} consecutive free ports on 127.0.0.1");
}

fn wait_for_port(port: u16, process: &mut Process, logs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if !process.still_running() {
            let log = std::fs::read_to_string(logs.join(format!("{}.log", process.name)))
                .unwrap_or_default();
            panic!("{} exited before listening on {port}:\n{log}", process.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} does not listen on {port} after 60 s", process.name);
}

fn generate(root: &Path) -> PathBuf {
    common::generated(&root.join("snapshot"), 0.02, 11)
}

/// A scheduler on a free 127.0.0.1 port, listening: its `host:port` and process.
fn start_scheduler(logs: &Path) -> (String, Process) {
    start_scheduler_with_env(logs, &[])
}

fn start_scheduler_with_env(logs: &Path, env: &[(String, String)]) -> (String, Process) {
    std::fs::create_dir_all(logs).unwrap();
    let port = free_ports(1);
    let bind = format!("127.0.0.1:{port}");
    let mut command = common::revleak_command();
    command
        .envs(env.iter().cloned())
        .args(["cluster", "scheduler", "--bind", &bind]);
    let mut scheduler = Process::spawn_command("scheduler", command, logs);
    wait_for_port(port, &mut scheduler, logs);
    (bind, scheduler)
}

fn revleak_run(snapshot: &Path, out: &Path, extra: &[&str]) -> Child {
    common::revleak_command()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            snapshot.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a run, killing it when it takes longer than `limit`.
/// The run's status and output, or None (the run killed) when it has not ended
/// within `limit`.
fn finish_within(mut run: Child, limit: Duration) -> Option<(ExitStatus, String)> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if run.try_wait().unwrap().is_some() {
            return Some(finish(run, Duration::ZERO));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = run.kill();
    let _ = run.wait();
    None
}

fn finish(mut run: Child, limit: Duration) -> (ExitStatus, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = run.try_wait().unwrap() {
            let output = run.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            return (status, text);
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            let output = run.wait_with_output().unwrap();
            panic!(
                "the run did not finish in {limit:?}:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sorted(mut findings: Vec<Finding>) -> Vec<String> {
    findings.sort_by(|a, b| {
        (&a.check_id, &a.entity_type, &a.entity_id).cmp(&(
            &b.check_id,
            &b.entity_type,
            &b.entity_id,
        ))
    });
    findings.iter().map(|f| format!("{f:?}")).collect()
}

fn manifest(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("runs/as_of=2026-11-26/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn local_reference(snapshot: &Path, out: &Path) -> Vec<String> {
    let (status, text) = finish(revleak_run(snapshot, out, &[]), Duration::from_secs(600));
    assert!(status.success(), "local run failed:\n{text}");
    sorted(read_findings(out))
}

#[test]
fn a_cluster_run_publishes_the_same_findings_as_a_local_run() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = generate(tmp.path());
    let local = local_reference(&snapshot, &tmp.path().join("local"));
    assert!(
        local.len() > 40,
        "the snapshot plants findings of every check"
    );

    let cluster = Cluster::start(tmp.path(), 2);
    let out = tmp.path().join("cluster");
    // Four partitions per stage on two executors of two slots: tasks of one stage
    // run on both executors (Ballista 55 returned an outer nested-loop join's rows
    // twice in that shape, see the next test).
    let (status, text) = finish(
        revleak_run(
            &snapshot,
            &out,
            &[
                "--engine",
                "ballista",
                "--scheduler",
                &cluster.scheduler_url,
                "--threads",
                "4",
            ],
        ),
        Duration::from_secs(900),
    );
    assert!(
        status.success(),
        "cluster run failed:\n{text}\n{}",
        cluster.logs()
    );
    let distributed = sorted(read_findings(&out));
    assert_eq!(distributed.len(), local.len());
    for (d, l) in distributed.iter().zip(&local) {
        assert_eq!(d, l);
    }
    // The inputs were read and reconciled the same way, row for row.
    let (m_local, m_cluster) = (manifest(&tmp.path().join("local")), manifest(&out));
    for key in ["inputs", "findings", "total_leakage"] {
        let strip = |v: &serde_json::Value| {
            let mut v = v[key].clone();
            if let Some(inputs) = v.as_array_mut() {
                for input in inputs {
                    input.as_object_mut().unwrap().remove("path");
                }
            }
            v
        };
        assert_eq!(strip(&m_local), strip(&m_cluster), "manifest {key}");
    }
}

#[test]
fn an_adapted_csv_export_runs_on_a_cluster_with_the_local_findings() {
    let export = crate::exports::assemble("crm_csv");
    let config = export.config.clone().unwrap();
    let adapted = [
        "--queries",
        export.queries.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    let local_out = export.tmp.path().join("local");
    let (status, text) = finish(
        revleak_run(&export.snapshot, &local_out, &adapted),
        Duration::from_secs(600),
    );
    assert!(status.success(), "local run failed:\n{text}");
    let local = sorted(read_findings(&local_out));
    assert!(!local.is_empty());

    let cluster = Cluster::start(export.tmp.path(), 2);
    let out = export.tmp.path().join("cluster");
    let mut args = adapted.to_vec();
    args.extend([
        "--engine",
        "ballista",
        "--scheduler",
        &cluster.scheduler_url,
    ]);
    let (status, text) = finish(
        revleak_run(&export.snapshot, &out, &args),
        Duration::from_secs(900),
    );
    assert!(
        status.success(),
        "cluster run failed:\n{text}\n{}",
        cluster.logs()
    );
    assert_eq!(sorted(read_findings(&out)), local);
}

#[test]
fn a_check_with_a_scalar_subquery_is_refused_on_a_cluster_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    common::copy_tree(&common::queries_dir(), &queries);
    // Fine on the embedded engine; on Ballista 55 the outer join the scalar
    // subquery becomes can return each deal more than once.
    std::fs::write(
        queries.join("checks/deal_age.sql"),
        "-- title: Deal age\n-- description: a scalar subquery\n-- owner: test\n\
         select cast(null as varchar) as severity, d.partner_id, 'deal' as entity_type, \
         d.deal_id as entity_id, cast(null as date) as period, \
         cast(0 as decimal(18, 2)) as expected_amount, cast(0 as decimal(18, 2)) as actual_amount, \
         cast(0 as decimal(18, 2)) as leakage_amount, \
         concat('as of ', cast((select max(as_of) from params) as varchar)) as detail \
         from clean.deals d\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let local_args = ["--queries", queries.to_str().unwrap(), "--only", "deal_age"];
    let (status, text) = finish(
        revleak_run(&common::sample_dir(), &out, &local_args),
        Duration::from_secs(600),
    );
    assert!(status.success(), "the embedded engine runs it:\n{text}");
    let published = read_findings(&out);

    let cluster = Cluster::start(tmp.path(), 1);
    let mut args = local_args.to_vec();
    args.extend([
        "--engine",
        "ballista",
        "--scheduler",
        &cluster.scheduler_url,
    ]);
    let (status, text) = finish(
        revleak_run(&common::sample_dir(), &out, &args),
        Duration::from_secs(600),
    );
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(
        text.contains("checks/deal_age.sql"),
        "names the check: {text}"
    );
    assert!(
        text.contains("a left join without an equality condition"),
        "says why: {text}"
    );
    assert!(
        text.contains("cross join a one-row CTE"),
        "says how: {text}"
    );
    assert_eq!(
        read_findings(&out),
        published,
        "the last run's outputs stay"
    );
}

#[test]
fn an_unreachable_scheduler_fails_the_run_with_exit_2_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_ports(1);
    let out = tmp.path().join("out");
    let (status, text) = finish(
        revleak_run(
            &common::sample_dir(),
            &out,
            &[
                "--engine",
                "ballista",
                "--scheduler",
                &format!("df://127.0.0.1:{port}"),
            ],
        ),
        Duration::from_secs(120),
    );
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "no Ballista scheduler answers at 127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(!out.join("findings").exists());
}

/// An executor that does not see the snapshot (its own mount namespace with an
/// empty tmpfs over the folder, as a worker without the shared mount): the run
/// fails with exit 2 naming the file, and publishes nothing. Needs root (CI is).
#[test]
fn an_executor_that_cannot_read_a_table_fails_the_run_naming_the_file() {
    let unshare_works = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !unshare_works {
        eprintln!("skipped: `unshare -m` needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    common::copy_sample(&snapshot);
    let logs = tmp.path().join("logs");
    let (bind, _scheduler) = start_scheduler(&logs);
    let flight = free_ports(2);
    let script = format!(
        "mount -t tmpfs none '{}' && exec '{}' cluster executor --scheduler {bind} --bind 127.0.0.1:{flight}",
        snapshot.display(),
        common::REVLEAK_BIN
    );
    let mut unshare = Command::new("unshare");
    unshare.args(["-m", "sh", "-c", &script]);
    let mut executor = Process::spawn_command("executor", unshare, &logs);
    wait_for_port(flight, &mut executor, &logs);
    std::thread::sleep(Duration::from_secs(2));

    let out = tmp.path().join("out");
    let (status, text) = finish(
        revleak_run(
            &snapshot,
            &out,
            &["--engine", "ballista", "--scheduler", &bind],
        ),
        Duration::from_secs(600),
    );
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(
        text.contains(".parquet") && text.contains("not found"),
        "{text}"
    );
    assert!(
        text.contains("every executor must read the snapshot"),
        "{text}"
    );
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.is_empty(),
        "nothing published, nothing left behind: {left:?}"
    );
}

/// How a run with a lost or frozen executor ended.
#[derive(Debug)]
enum Ended {
    /// Published, with exactly the embedded engine's findings.
    Published,
    /// Exit 2, the previous outputs untouched.
    Failed,
}

/// When the fault strikes: a time after the run started, or the moment the
/// run logs that a stage is done (so the next one is under way whatever the
/// machine's speed).
#[derive(Debug, Clone, Copy)]
enum When {
    After(Duration),
    OnLog(&'static str),
}

/// Runs the snapshot on a fresh two-executor cluster, does `fault` to the
/// first executor `when` says, and checks the run ends within a bound with
/// either the local findings or exit 2 and the previous outputs whole — never
/// a hang, never other findings.
fn run_with_a_fault(
    root: &Path,
    snapshot: &Path,
    local: &[String],
    when: When,
    fault: &str,
) -> Ended {
    let out = root.join("out");
    let before = manifest(&out)["run_id"].clone();
    let cluster = Cluster::start(root, 2);
    let mut run = common::revleak_command()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            snapshot.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--engine",
            "ballista",
            "--scheduler",
            &cluster.scheduler_url,
        ])
        // the stages' ends, for `When::OnLog`
        .env("REVLEAK_LOG", "revleak=debug")
        // a job of this snapshot takes seconds: a minute without a result is a stall
        .env("REVLEAK_CLUSTER_STALL_TIMEOUT", "60")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, logged) = std::sync::mpsc::channel::<String>();
    let stderr = run.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let started = Instant::now();
    match when {
        When::After(after) => std::thread::sleep(after),
        When::OnLog(message) => {
            while let Ok(line) = logged.recv_timeout(Duration::from_secs(300)) {
                if line.contains(message) {
                    break;
                }
            }
        }
    }
    let struck = started.elapsed();
    let victim = cluster.executors[0].child.id().to_string();
    let (signal, done) = match fault {
        "stop" => ("-STOP", "frozen"),
        _ => ("-KILL", "killed"),
    };
    let _ = Command::new("kill").args([signal, &victim]).status();
    let ended = finish_within(run, Duration::from_secs(420));
    let _ = Command::new("kill").args(["-CONT", &victim]).status();
    let log = reader.join().unwrap();
    let Some((status, stdout)) = ended else {
        panic!(
            "the run hung after the executor was {done} {struck:?} in ({when:?})\n{log}\n{}",
            cluster.logs()
        );
    };
    let text = format!("{stdout}{log}");
    let leftovers = common::temp_entries(&out);
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let ended = match status.code() {
        Some(0) | Some(1) => {
            assert_ne!(manifest(&out)["run_id"], before);
            assert_eq!(
                sorted(read_findings(&out)),
                local,
                "a published run has the embedded engine's findings ({fault} at {when:?})"
            );
            Ended::Published
        }
        Some(2) => {
            assert!(text.contains("error"), "a failed run says why:\n{text}");
            assert_eq!(manifest(&out)["run_id"], before, "nothing was published");
            assert_eq!(
                sorted(read_findings(&out)),
                local,
                "the previous outputs are intact"
            );
            let reason = text
                .lines()
                .rev()
                .find(|l| l.contains("error"))
                .unwrap_or_default();
            eprintln!("{fault} at {when:?}: exit 2: {reason}");
            Ended::Failed
        }
        other => panic!("exit {other:?}:\n{text}\n{}", cluster.logs()),
    };
    eprintln!(
        "executor {done} {struck:?} in ({when:?}): {ended:?} after {:?}",
        started.elapsed()
    );
    ended
}

#[test]
fn an_executor_killed_at_any_moment_never_hangs_the_run_nor_changes_its_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = generate(tmp.path());
    // A previous night's outputs in the folder: they must survive a failed run.
    let local = local_reference(&snapshot, &tmp.path().join("out"));
    let moments = [
        // while the snapshot is read and the data-quality rules run
        When::After(Duration::from_secs(2)),
        // while the clean layers are written by the executors
        When::OnLog("data-quality rules run"),
        // during the checks
        When::OnLog("shared views built"),
        // during the actions
        When::OnLog("checks run"),
    ];
    let mut outcomes = Vec::new();
    for (i, when) in moments.into_iter().enumerate() {
        let root = tmp.path().join(format!("kill-{i}"));
        std::fs::create_dir_all(&root).unwrap();
        common::copy_tree(&tmp.path().join("out"), &root.join("out"));
        let ended = run_with_a_fault(&root, &snapshot, &local, when, "kill");
        outcomes.push((when, ended));
    }
    eprintln!("executor killed at (moment, outcome): {outcomes:?}");
}

#[test]
fn a_frozen_executor_never_hangs_the_run_nor_changes_its_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = generate(tmp.path());
    let local = local_reference(&snapshot, &tmp.path().join("out"));
    let ended = run_with_a_fault(
        tmp.path(),
        &snapshot,
        &local,
        When::OnLog("data-quality rules run"),
        "stop",
    );
    eprintln!("executor frozen (SIGSTOP): {ended:?}");
}

#[test]
fn the_engine_setting_is_checked_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for (args, message) in [
        (
            vec!["--engine", "ballista"],
            "--engine ballista needs --scheduler df://HOST:PORT",
        ),
        (
            vec!["--engine", "spark"],
            "--engine: engine `spark` is not one of local, ballista",
        ),
        (
            vec!["--engine", "ballista", "--scheduler", "df://nowhere"],
            "--scheduler df://nowhere: expected df://HOST:PORT",
        ),
    ] {
        let (status, text) = finish(
            revleak_run(&common::sample_dir(), &out, &args),
            Duration::from_secs(120),
        );
        assert_eq!(status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(message), "{args:?}: {text}");
        assert!(!out.join("findings").exists());
    }
}

/// A cluster without a shared folder: the snapshot in a bucket (with a gzip
/// CSV, a JSON lines file and a workbook the run converts and uploads for the
/// executors), the outputs into a bucket, the layers written by the executors
/// under the output prefix, every process with its own credentials from its
/// environment. The findings are the embedded engine's, and the run's work is
/// gone from the bucket afterwards.
#[test]
fn a_cluster_reads_a_snapshot_in_a_bucket_and_publishes_into_one_without_a_shared_folder() {
    use crate::common::servers::{BUCKET, Cloud, download, servers};
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = crate::object_store::uploaded(Cloud::S3);
    let env = servers().env(Cloud::S3);
    let cluster = Cluster::start_with_env(tmp.path(), 2, &env);
    let prefix = "cluster-out";
    let out = Cloud::S3.url(BUCKET, prefix);
    // The client runs where no folder of the executors is.
    let elsewhere = tmp.path().join("client");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let run = common::revleak_command()
        .current_dir(&elsewhere)
        .envs(env.iter().cloned())
        .env("XDG_CACHE_HOME", elsewhere.join(".cache"))
        .args([
            "run",
            &snapshot,
            "--out",
            &out,
            "--engine",
            "ballista",
            "--scheduler",
            &cluster.scheduler_url,
            "--threads",
            "4",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, text) = finish(run, Duration::from_secs(900));
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "cluster run failed:\n{text}\n{}",
        cluster.logs()
    );
    let copy = tempfile::tempdir().unwrap();
    let names = download(&servers().store(Cloud::S3, BUCKET), prefix, copy.path());
    assert!(
        names.iter().all(|n| !n.starts_with('_')),
        "no layers, staging or lock left in the bucket: {names:?}"
    );
    assert_eq!(
        &crate::object_store::findings_but_run_id(copy.path()),
        crate::object_store::local_findings(),
        "the embedded engine's findings"
    );
    let client_files: Vec<_> = std::fs::read_dir(&elsewhere)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != ".cache")
        .collect();
    assert!(
        client_files.is_empty(),
        "nothing written where the client runs: {client_files:?}"
    );
}
