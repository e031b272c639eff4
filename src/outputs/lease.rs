//! The lock of an output prefix in object storage, where no `flock` exists: a
//! lease object `<prefix>/_revleak.lock`, created with a conditional PUT
//! (`PutMode::Create`: of runs starting together exactly one wins) and renewed
//! by a conditional PUT on its own version every quarter of the lease. A run
//! that dies leaves the object behind; the next run takes it over when its
//! holder is known dead on the same machine (same boot, same pid namespace, its
//! pid gone or reused), or when its lease ran out: the store's `Last-Modified`
//! is older than the holder's lease plus 5 s for clock skew. A lease that could
//! not be renewed is lost, and a run that lost it publishes nothing more.
//!
//! The lease's requests run on a runtime of their own, with a client of their
//! own, so that a busy query engine never delays a renewal.

use crate::error::{Error, Result};
use crate::storage::store::describe;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, UpdateVersion};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lease when `storage_lock_lease` is unset: a crashed run on another
/// machine blocks the next one for about a minute, and a renewal has 45 s to
/// get through a store's bad patch.
pub const DEFAULT_LEASE_SECS: u64 = 60;

/// The shortest lease `storage_lock_lease` may set.
pub const MIN_LEASE_SECS: u64 = 2;

/// Clock skew allowed between this machine and the store's.
const SKEW: Duration = Duration::from_secs(5);

/// What the lock object says about its holder: who, for the message a second
/// run shows, and how to tell whether the holder is alive. No credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    run_id: String,
    /// Tells our own lock object from another run's (a Create applied by the
    /// store whose answer was lost, and retried).
    token: String,
    host: String,
    boot_id: String,
    pid_ns: String,
    pid: u32,
    /// The process's start, in clock ticks since boot (`/proc/<pid>/stat`).
    pid_start: String,
    acquired: String,
    renewed: String,
    lease_secs: u64,
}

impl Holder {
    fn this_process(run_id: &str, lease: Duration) -> Holder {
        let pid = std::process::id();
        let now = chrono::Utc::now().to_rfc3339();
        Holder {
            run_id: run_id.to_string(),
            token: token(),
            host: read_trimmed("/proc/sys/kernel/hostname")
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_default(),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
            pid_ns: pid_namespace().unwrap_or_default(),
            pid,
            pid_start: process_start(pid).unwrap_or_default(),
            acquired: now.clone(),
            renewed: now,
            lease_secs: lease.as_secs(),
        }
    }

    /// Whether the holder is a process of this machine (and pid namespace)
    /// that is no longer running.
    fn dead_here(&self) -> bool {
        let ours = (
            read_trimmed("/proc/sys/kernel/random/boot_id"),
            pid_namespace(),
        );
        let (Some(boot_id), Some(pid_ns)) = ours else {
            return false;
        };
        if self.boot_id.is_empty() || self.boot_id != boot_id || self.pid_ns != pid_ns {
            return false;
        }
        match process_start(self.pid) {
            None => true,
            Some(start) => start != self.pid_start,
        }
    }

    fn describe(&self) -> String {
        format!(
            "run {} on host {}, pid {}",
            self.run_id,
            if self.host.is_empty() {
                "?"
            } else {
                &self.host
            },
            self.pid
        )
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.to_string_lossy().to_string())
}

/// Field 22 of `/proc/<pid>/stat`, counted after the command's closing `)`.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19).map(str::to_string)
}

/// 128 random bits, from the standard library's per-process random hash keys.
fn token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let half = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

/// The state renewals share with the run.
struct Held {
    version: UpdateVersion,
    holder: Holder,
    last_renewed: Instant,
    /// Why the lease is no longer ours.
    lost: Option<String>,
}

/// A held lease; released (the object deleted, when still ours) on drop.
pub struct Lease {
    /// The lock object's URL, for messages.
    url: String,
    key: ObjectPath,
    store: Arc<dyn ObjectStore>,
    lease: Duration,
    held: Arc<Mutex<Held>>,
    runtime: Option<LeaseRuntime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The lease's own runtime, shut down without waiting when dropped: a
/// runtime dropped the ordinary way inside another one's task panics.
struct LeaseRuntime(Option<tokio::runtime::Runtime>);

impl LeaseRuntime {
    fn get(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("held until dropped")
    }
}

impl Drop for LeaseRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lease({})", self.url)
    }
}

/// Runs `future` on `runtime` and waits for it from synchronous code, inside
/// or outside another runtime.
fn wait<F>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = runtime.spawn(future);
    let join = || futures::executor::block_on(handle).expect("a lease request does not panic");
    match tokio::runtime::Handle::try_current() {
        Ok(current) if current.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(join)
        }
        _ => join(),
    }
}

impl Lease {
    /// Takes the lease at `key` for `run_id`, or says who holds it.
    /// `store` should be a client used for nothing else.
    pub fn acquire(
        store: Arc<dyn ObjectStore>,
        key: ObjectPath,
        url: String,
        run_id: &str,
        lease: Duration,
    ) -> Result<Lease> {
        let runtime = LeaseRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("revleak-lease")
                .enable_all()
                .build()
                .map_err(|e| {
                    Error::Lock(format!("{url}: cannot start the lease's runtime: {e}"))
                })?,
        ));
        let me = Holder::this_process(run_id, lease);
        let taken = wait(
            runtime.get(),
            take(store.clone(), key.clone(), url.clone(), me.clone()),
        )?;
        let held = Arc::new(Mutex::new(Held {
            version: taken,
            holder: me,
            last_renewed: Instant::now(),
            lost: None,
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        runtime.get().spawn(renew_until(
            store.clone(),
            key.clone(),
            url.clone(),
            lease,
            held.clone(),
            stopped,
        ));
        Ok(Lease {
            url,
            key,
            store,
            lease,
            held,
            runtime: Some(runtime),
            stop: Some(stop),
        })
    }

    /// Renews the lease now; an error when it is lost or cannot be renewed.
    /// Called before a publication's commit point, and between its steps.
    pub fn ensure_fresh(&self) -> Result<()> {
        let runtime = self.runtime.as_ref().expect("held until dropped");
        let result = wait(
            runtime.get(),
            renew_once(
                self.store.clone(),
                self.key.clone(),
                self.url.clone(),
                self.held.clone(),
            ),
        );
        if let Err(e) = result {
            let mut held = self.held.lock().expect("not poisoned");
            if held.lost.is_none() && held.last_renewed.elapsed() > self.lease {
                held.lost = Some(e.to_string());
            }
        }
        let held = self.held.lock().expect("not poisoned");
        match &held.lost {
            Some(why) => Err(Error::Lock(format!(
                "{}: the lock on the output prefix was lost ({why}); nothing more is published by this run",
                self.url
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        let (store, key) = (self.store.clone(), self.key.clone());
        let ours = {
            let held = self.held.lock().expect("not poisoned");
            held.lost.is_none().then(|| held.version.e_tag.clone())
        };
        if let Some(e_tag) = ours {
            let released = wait(runtime.get(), async move {
                // Deleted only while it is still the version we wrote: a lease
                // taken over meanwhile belongs to the run that took it.
                match store.head(&key).await {
                    Ok(meta) if meta.e_tag == e_tag => store.delete(&key).await,
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                }
            });
            if let Err(e) = released {
                tracing::warn!(
                    "{}: the lock was not removed ({}); the next run takes it over when its lease runs out",
                    self.url,
                    describe(&self.url, &e)
                );
            }
        }
    }
}

fn put_version(result: object_store::PutResult) -> UpdateVersion {
    UpdateVersion {
        e_tag: result.e_tag,
        version: result.version,
    }
}

/// Creates the lock object, or takes over one whose holder is gone.
async fn take(
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    url: String,
    me: Holder,
) -> Result<UpdateVersion> {
    let body = serde_json::to_vec(&me).expect("a holder serializes");
    let storage = |e: &object_store::Error| Error::Storage(describe(&url, e));
    // A holder may let go between our Create and our GET: then we try again.
    for _ in 0..5 {
        let created = store
            .put_opts(
                &key,
                body.clone().into(),
                PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                },
            )
            .await;
        let failure = match created {
            Ok(result) => return Ok(put_version(result)),
            Err(e) => e,
        };
        let got = match store.get(&key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                if matches!(failure, object_store::Error::AlreadyExists { .. }) {
                    continue;
                }
                return Err(storage(&failure));
            }
            Err(e) => return Err(storage(&e)),
        };
        let meta = got.meta.clone();
        let bytes = got.bytes().await.map_err(|e| storage(&e))?;
        let holder: Option<Holder> = serde_json::from_slice(&bytes).ok();
        let version = UpdateVersion {
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
        };
        if holder.as_ref().is_some_and(|h| h.token == me.token) {
            // Our own Create, applied although its answer was an error.
            return Ok(version);
        }
        if !matches!(failure, object_store::Error::AlreadyExists { .. }) {
            return Err(storage(&failure));
        }
        let lease_secs = holder
            .as_ref()
            .map(|h| h.lease_secs)
            .unwrap_or(DEFAULT_LEASE_SECS);
        let expires = meta.last_modified
            + chrono::Duration::from_std(Duration::from_secs(lease_secs) + SKEW)
                .unwrap_or_default();
        let shown = holder
            .as_ref()
            .map(Holder::describe)
            .unwrap_or_else(|| "a holder revleak cannot read".into());
        let dead = holder.as_ref().is_some_and(Holder::dead_here);
        let expired = chrono::Utc::now() > expires;
        if !dead && !expired {
            return Err(Error::Lock(format!(
                "{url}: another revleak run ({shown}) is publishing into this prefix; if it died, its lease runs out at {}",
                expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )));
        }
        tracing::warn!(
            "{url}: taking over the lock of {shown}, {}",
            if dead {
                "a process of this machine that is no longer running"
            } else {
                "whose lease ran out"
            }
        );
        return match store
            .put_opts(
                &key,
                body.clone().into(),
                PutOptions {
                    mode: PutMode::Update(version),
                    ..Default::default()
                },
            )
            .await
        {
            Ok(result) => Ok(put_version(result)),
            Err(object_store::Error::Precondition { .. }) => Err(Error::Lock(format!(
                "{url}: another revleak run took the lock of {shown} at the same moment; it is publishing into this prefix"
            ))),
            Err(e) => Err(storage(&e)),
        };
    }
    Err(Error::Lock(format!(
        "{url}: could not take the lock (it kept being taken and released)"
    )))
}

/// One renewal: the lock object rewritten on condition that it is still the
/// version we wrote last.
async fn renew_once(
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    url: String,
    held: Arc<Mutex<Held>>,
) -> Result<()> {
    let (version, body) = {
        let mut held = held.lock().expect("not poisoned");
        if let Some(why) = &held.lost {
            return Err(Error::Lock(why.clone()));
        }
        held.holder.renewed = chrono::Utc::now().to_rfc3339();
        (
            held.version.clone(),
            serde_json::to_vec(&held.holder).expect("a holder serializes"),
        )
    };
    let renewed = store
        .put_opts(
            &key,
            body.into(),
            PutOptions {
                mode: PutMode::Update(version),
                ..Default::default()
            },
        )
        .await;
    let mut held = held.lock().expect("not poisoned");
    match renewed {
        Ok(result) => {
            held.version = put_version(result);
            held.last_renewed = Instant::now();
            Ok(())
        }
        Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
            let why = "another run replaced or removed the lock object".to_string();
            held.lost = Some(why.clone());
            Err(Error::Lock(why))
        }
        Err(e) => Err(Error::Storage(describe(&url, &e))),
    }
}

/// Renews every quarter of the lease until stopped; a lease not renewed for a
/// whole lease is lost.
async fn renew_until(
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    url: String,
    lease: Duration,
    held: Arc<Mutex<Held>>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(lease / 4) => {}
        }
        if let Err(e) = renew_once(store.clone(), key.clone(), url.clone(), held.clone()).await {
            let mut held = held.lock().expect("not poisoned");
            if held.lost.is_some() {
                tracing::error!("{url}: the output lock was lost: {e}");
                return;
            }
            tracing::warn!("{url}: the output lock was not renewed: {e}");
            if held.last_renewed.elapsed() > lease {
                held.lost = Some(format!("not renewed for {} s: {e}", lease.as_secs()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn lock() -> ObjectPath {
        ObjectPath::from("out/_revleak.lock")
    }

    fn acquire(store: &Arc<dyn ObjectStore>, run: &str, secs: u64) -> Result<Lease> {
        Lease::acquire(
            store.clone(),
            lock(),
            "memory:///out/_revleak.lock".into(),
            run,
            Duration::from_secs(secs),
        )
    }

    fn write_holder(store: &Arc<dyn ObjectStore>, holder: &Holder) {
        let body = serde_json::to_vec(holder).unwrap();
        futures::executor::block_on(store.put(&lock(), body.into())).unwrap();
    }

    #[test]
    fn a_second_run_is_refused_while_the_first_holds_the_lease() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let first = acquire(&store, "first", 60).unwrap();
        let second = acquire(&store, "second", 60).unwrap_err().to_string();
        assert!(
            second.contains("another revleak run (run first"),
            "{second}"
        );
        assert!(second.contains("lease runs out at"), "{second}");
        first.ensure_fresh().unwrap();
        drop(first);
        let gone = futures::executor::block_on(store.head(&lock()));
        assert!(matches!(gone, Err(object_store::Error::NotFound { .. })));
        acquire(&store, "third", 60).unwrap();
    }

    #[test]
    fn a_dead_holder_on_this_machine_is_taken_over_at_once() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut dead = Holder::this_process("killed", Duration::from_secs(3600));
        dead.pid_start = "not-this-start".into();
        write_holder(&store, &dead);
        if read_trimmed("/proc/sys/kernel/random/boot_id").is_some() {
            let lease = acquire(&store, "next", 60).unwrap();
            lease.ensure_fresh().unwrap();
        }
        // A live holder of this machine is not taken over.
        write_holder(
            &store,
            &Holder::this_process("alive", Duration::from_secs(3600)),
        );
        assert!(acquire(&store, "next", 60).is_err());
    }

    #[test]
    fn a_foreign_holder_is_taken_over_when_its_lease_ran_out() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut foreign = Holder::this_process("elsewhere", Duration::from_secs(0));
        foreign.boot_id = "another-machine".into();
        foreign.lease_secs = 0;
        write_holder(&store, &foreign);
        // Within the skew allowance it still counts as held.
        assert!(acquire(&store, "next", 60).is_err());
        std::thread::sleep(SKEW + Duration::from_millis(1200));
        acquire(&store, "next", 60).unwrap();
    }

    #[test]
    fn a_lease_replaced_behind_its_back_is_lost_and_says_so() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let lease = acquire(&store, "first", 60).unwrap();
        let mut other = Holder::this_process("intruder", Duration::from_secs(60));
        other.token = "other".into();
        write_holder(&store, &other);
        let lost = lease.ensure_fresh().unwrap_err().to_string();
        assert!(lost.contains("was lost"), "{lost}");
        drop(lease);
        // The intruder's object is not deleted by the run that lost it.
        let still = futures::executor::block_on(store.get(&lock())).unwrap();
        let bytes = futures::executor::block_on(still.bytes()).unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("intruder"));
    }
}
