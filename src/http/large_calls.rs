//! Where calls with a large body are parsed and evaluated: a few threads of their own, one per
//! core, started with the service (the body itself is received on the worker, into its slot's
//! buffer). A large body takes milliseconds of CPU, which would hold up the calls queued behind
//! it on a worker.
//! Tokio's blocking pool would do that too, but it runs each call on whichever of its threads
//! is free or newly made, and every thread that ever held a large call keeps its freed memory
//! in the allocator's heap: peak memory then grows with the threads, not with the calls. Here
//! the same few threads hold them all, and the one idle the shortest time takes the next call,
//! so that calls one at a time reuse one heap. Each slot keeps one body buffer (up to 1 MiB) from
//! call to call: an announced large body is not regrown as it arrives, and no worker's heap holds
//! bodies it freed. (A chunked body, whose size is not announced, is received on the worker's heap
//! before it is known to be large; its buffer then becomes the slot's.)

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Bodies above this size are parsed and evaluated here, off the worker threads (a typical call
/// is 10–50 KB).
pub const LARGE_BODY_BYTES: usize = 256 * 1024;

/// What an evaluator does with a call's body.
type Evaluation = Box<dyn FnOnce(&[u8]) + Send>;

/// A call's evaluation of its body, with the slot (holding the body) until the evaluation ends.
struct Job {
    work: Evaluation,
    slot: Slot,
}

/// The evaluator threads, and one slot per thread.
pub struct LargeCalls {
    slots: Arc<Semaphore>,
    evaluators: Vec<mpsc::Sender<Job>>,
    /// The evaluators without a call, the most recently idle last. A slot is given back only
    /// after its evaluator is listed here, so whoever holds a slot finds one listed.
    idle: Arc<Mutex<Vec<usize>>>,
    /// The body buffers of the slots not taken (at most one per slot; made by the first call).
    buffers: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// A slot taken: the call may receive its body into `body`, then be evaluated; held until its
/// evaluation ends, even when the caller has gone (timed out or disconnected) meanwhile.
pub struct Slot {
    /// Empty when taken; its capacity (up to `KEPT_BUFFER_BYTES`) is kept from call to call.
    pub body: Vec<u8>,
    buffers: Arc<Mutex<Vec<Vec<u8>>>>,
    _permit: OwnedSemaphorePermit,
}

/// The largest buffer a slot keeps after its call (the default body limit): with a raised limit, a
/// larger body's buffer is freed after its call rather than held for the service's life.
const KEPT_BUFFER_BYTES: usize = crate::config::DEFAULT_MAX_BODY_BYTES;

impl Drop for Slot {
    /// The buffer goes back before the permit (dropped after this), for the next slot holder.
    fn drop(&mut self) {
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        if body.capacity() > KEPT_BUFFER_BYTES {
            body = Vec::new();
        }
        self.buffers.lock().unwrap_or_else(|e| e.into_inner()).push(body);
    }
}

/// The evaluation panicked (logged); the call is answered 500.
#[derive(Debug)]
pub struct EvaluationFailed;

impl LargeCalls {
    /// `give_back_above`: the resident memory (bytes) above which an evaluator gives its free
    /// memory back to the system after a call (`limits.give_back_memory_above_mib`).
    pub fn start(threads: usize, give_back_above: usize) -> LargeCalls {
        let threads = threads.max(1);
        let idle = Arc::new(Mutex::new((0..threads).rev().collect::<Vec<_>>()));
        let evaluators = (0..threads)
            .map(|n| {
                let (sender, jobs) = mpsc::channel::<Job>();
                let idle = idle.clone();
                std::thread::Builder::new()
                    .name(format!("large-call-{n}"))
                    .spawn(move || {
                        for Job { work, slot } in jobs {
                            // A call that ends lists its evaluator idle itself (see `run`).
                            let body = &slot.body[..];
                            if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(body))) {
                                let message = panic
                                    .downcast_ref::<&str>()
                                    .map(|s| s.to_string())
                                    .or_else(|| panic.downcast_ref::<String>().cloned())
                                    .unwrap_or_default();
                                tracing::error!(%message, "a large call's evaluation panicked; it is answered 500");
                                idle.lock().unwrap_or_else(|e| e.into_inner()).push(n);
                            }
                            drop(slot);
                            give_back_memory(give_back_above);
                        }
                    })
                    .expect("the large-call threads start with the service");
                sender
            })
            .collect();
        LargeCalls {
            slots: Arc::new(Semaphore::new(threads)),
            evaluators,
            idle,
            buffers: Arc::new(Mutex::new((0..threads).map(|_| Vec::new()).collect())),
        }
    }

    /// Wait for a slot: at most one large call per evaluator is received and evaluated at a
    /// time, so memory stays bounded however many arrive together.
    pub async fn slot(&self) -> Slot {
        match self.slots.clone().acquire_owned().await {
            Ok(permit) => Slot {
                // A permit is given back only after its buffer (see `Drop`): one is there.
                body: self.buffers.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default(),
                buffers: self.buffers.clone(),
                _permit: permit,
            },
            Err(_) => unreachable!("the slots are never closed"),
        }
    }

    /// Evaluate `work` of the slot's body on the evaluator idle the shortest time, and wait for
    /// its result.
    pub async fn run<T: Send + 'static>(
        &self,
        slot: Slot,
        work: impl FnOnce(&[u8]) -> T + Send + 'static,
    ) -> Result<T, EvaluationFailed> {
        // A slot holder always finds an evaluator idle (see `idle`); were none, the first
        // would queue the call.
        let n = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or(0);
        let (tx, rx) = oneshot::channel();
        let idle = self.idle.clone();
        let work = Box::new(move |body: &[u8]| {
            // A caller that has gone is not evaluated for.
            let result = (!tx.is_closed()).then(|| work(body));
            // Listed idle before its caller hears back, so that the caller's next call (or the
            // next in line) comes to this evaluator: its heap holds what this call freed.
            idle.lock().unwrap_or_else(|e| e.into_inner()).push(n);
            if let Some(result) = result {
                let _ = tx.send(result);
            }
        });
        // The threads live as long as the service: sending cannot fail while `self` exists.
        let _ = self.evaluators[n].send(Job { work, slot });
        rx.await.map_err(|_| EvaluationFailed)
    }
}

/// When the service's resident memory is above `above` bytes (or cannot be read), give what this
/// thread's allocator heap holds free back to the system. A large call leaves megabytes free in
/// its evaluator's heap, which mimalloc would keep for the next: the service's peak memory grew
/// with them (issue 16). Giving them back takes about 50 µs; the next large call then pays the
/// page faults of fresh memory (`bench/memory.sh`, 1 MB bodies: a third fewer calls per second at
/// 32 connections, none to a quarter fewer at 2).
fn give_back_memory(above: usize) {
    if resident_bytes().is_none_or(|resident| resident > above) {
        // SAFETY: `mi_collect` only frees or decommits memory the allocator holds free; it may be
        // called from any thread at any time.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

/// The process's resident memory (`VmRSS`), where the system tells it (Linux).
fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    Some(line.trim().strip_suffix("kB")?.trim().parse::<usize>().ok()? * 1024)
}

#[cfg(test)]
mod tests {
    use std::thread::ThreadId;
    use std::time::Duration;

    use super::*;

    fn this_thread() -> ThreadId {
        std::thread::current().id()
    }

    #[tokio::test]
    async fn a_call_that_panics_is_answered_and_its_evaluator_goes_on() {
        let calls = LargeCalls::start(1, usize::MAX);
        assert!(calls.run(calls.slot().await, |_| -> u32 { panic!("a rule fell over") }).await.is_err());
        assert_eq!(calls.run(calls.slot().await, |_| 7).await.unwrap(), 7, "the one evaluator still runs calls");
    }

    #[tokio::test]
    async fn calls_one_at_a_time_reuse_one_evaluator() {
        let calls = LargeCalls::start(2, usize::MAX);
        let first = calls.run(calls.slot().await, |_| this_thread()).await.unwrap();
        assert_ne!(first, this_thread(), "evaluated off the caller's thread");
        for _ in 0..10 {
            assert_eq!(calls.run(calls.slot().await, |_| this_thread()).await.unwrap(), first);
        }
    }

    #[tokio::test]
    async fn a_slot_is_held_until_its_evaluation_ends_even_when_the_caller_has_gone() {
        let calls = Arc::new(LargeCalls::start(2, usize::MAX));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = oneshot::channel::<()>();
        // The first caller gives up while its evaluation runs: its slot stays taken.
        let slow = tokio::spawn({
            let calls = calls.clone();
            async move {
                let slot = calls.slot().await;
                calls
                    .run(slot, move |_| {
                        let _ = started_tx.send(());
                        released.recv().ok()
                    })
                    .await
            }
        });
        started.await.unwrap();
        slow.abort();
        let _second = calls.slot().await;
        let third = tokio::spawn({
            let calls = calls.clone();
            async move {
                let _slot = calls.slot().await;
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "both slots are taken: the abandoned call's and the second");
        release.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), third).await.expect("the slot comes back").unwrap();
    }

    #[tokio::test]
    async fn a_slot_keeps_its_body_buffer_for_the_next_call_and_hands_it_over_empty() {
        // Mark 0: memory is given back after the call too, which must leave the buffer alone.
        let calls = LargeCalls::start(1, 0);
        let mut slot = calls.slot().await;
        slot.body.extend_from_slice(&[b'x'; 300 * 1024]);
        let seen = calls.run(slot, |body| (body.len(), body.as_ptr() as usize)).await.unwrap();
        assert_eq!(seen.0, 300 * 1024, "the evaluation reads the body received into the slot");
        let next = calls.slot().await;
        assert!(next.body.is_empty(), "a slot is handed over without the last call's body");
        assert!(next.body.capacity() >= 300 * 1024, "and with its room: {}", next.body.capacity());
        assert_eq!(next.body.as_ptr() as usize, seen.1, "the same buffer, not a new one");
    }

    #[tokio::test]
    async fn a_buffer_over_the_default_body_limit_is_not_kept() {
        let calls = LargeCalls::start(1, usize::MAX);
        let mut slot = calls.slot().await;
        slot.body.extend_from_slice(&vec![b'x'; KEPT_BUFFER_BYTES + 1]);
        calls.run(slot, |_| ()).await.unwrap();
        assert_eq!(calls.slot().await.body.capacity(), 0, "freed after its call, not held for the service's life");
    }

    #[test]
    fn the_resident_memory_is_read_where_the_system_tells_it() {
        if cfg!(target_os = "linux") {
            let resident = resident_bytes().expect("Linux tells VmRSS");
            assert!((1 << 20..1 << 40).contains(&resident), "{resident} bytes");
        }
    }
}
