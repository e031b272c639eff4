//! An object read as a `std::io::Read`, for the text readers (CSV, JSON
//! lines), which are synchronous: the object is fetched in ranged GETs of
//! [`CHUNK`] bytes, each pinned to the ETag seen when it was opened, and the
//! next range is requested while the current one is read. So memory holds at
//! most two chunks whatever the object's size, every request is short (its
//! timeout and retries are object_store's, per request), and an object
//! replaced while it is read is an error, not a mix of two versions.

use super::store::describe;
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::future::Future;
use std::io::Read;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Bytes per ranged GET.
pub const CHUNK: u64 = 8 * 1024 * 1024;

/// Runs `future` to its end from synchronous code. On a worker of the
/// multi-threaded runtime (the binary's) the worker is handed over to the
/// others while it waits; outside a runtime a small one is made.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(future)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime starts")
            .block_on(future),
    }
}

pub struct RangedRead {
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    /// For messages.
    url: String,
    e_tag: Option<String>,
    size: u64,
    /// Where the next range to request starts.
    next: u64,
    pending: Option<Pending>,
    chunk: Bytes,
}

/// The next range: being fetched, or fetched.
enum Pending {
    Spawned(JoinHandle<object_store::Result<Bytes>>),
    Ready(object_store::Result<Bytes>),
}

impl RangedRead {
    /// HEADs the object (its size and ETag) and requests the first range.
    pub fn open(
        store: Arc<dyn ObjectStore>,
        key: ObjectPath,
        url: String,
    ) -> std::io::Result<RangedRead> {
        let meta = block_on(store.head(&key)).map_err(|e| error(&url, &e))?;
        let mut read = RangedRead {
            store,
            key,
            url,
            e_tag: meta.e_tag,
            size: meta.size,
            next: 0,
            pending: None,
            chunk: Bytes::new(),
        };
        read.request_next();
        Ok(read)
    }

    /// Starts the GET of the next range, if any is left.
    fn request_next(&mut self) {
        if self.next >= self.size {
            return;
        }
        let end = (self.next + CHUNK).min(self.size);
        let options = GetOptions {
            range: Some(GetRange::Bounded(self.next..end)),
            if_match: self.e_tag.clone(),
            ..Default::default()
        };
        let (store, key) = (self.store.clone(), self.key.clone());
        let fetch = async move { store.get_opts(&key, options).await?.bytes().await };
        self.pending = Some(match tokio::runtime::Handle::try_current() {
            Ok(handle) => Pending::Spawned(handle.spawn(fetch)),
            // no runtime to fetch ahead on: fetched now
            Err(_) => Pending::Ready(block_on(fetch)),
        });
        self.next = end;
    }
}

fn error(url: &str, e: &object_store::Error) -> std::io::Error {
    std::io::Error::other(describe(url, e))
}

impl Read for RangedRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            let Some(pending) = self.pending.take() else {
                return Ok(0);
            };
            let fetched = match pending {
                Pending::Spawned(task) => block_on(task)
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", self.url)))?,
                Pending::Ready(fetched) => fetched,
            };
            self.chunk = fetched.map_err(|e| error(&self.url, &e))?;
            self.request_next();
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

impl Drop for RangedRead {
    fn drop(&mut self) {
        if let Some(Pending::Spawned(task)) = self.pending.take() {
            task.abort();
        }
    }
}
