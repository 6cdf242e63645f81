//! Where calls with a large body are read and evaluated: a few threads of their own, one per
//! core, started with the service. A large body takes milliseconds of CPU, which would hold up
//! the calls queued behind it on a worker. Tokio's blocking pool would do that too, but it
//! runs each call on whichever of its threads is free or newly made, and every thread that
//! ever held a large call keeps its freed memory in the allocator's heap: peak memory then
//! grows with the threads, not with the calls. Here the same few threads hold them all.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

type Job = Box<dyn FnOnce() + Send>;

/// The evaluator threads and one slot per thread.
pub struct LargeCalls {
    slots: Arc<Semaphore>,
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// A slot taken: the call may read its body, then run on an evaluator.
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

/// The evaluators are gone (the service is stopping).
#[derive(Debug)]
pub struct Stopped;

impl LargeCalls {
    pub fn start(threads: usize) -> LargeCalls {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("large-call-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job, not while it runs.
                        let job = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A call that panics is answered 500 (its result channel is dropped);
                        // the thread goes on with the next.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .expect("the large-call threads start with the service");
        }
        LargeCalls { slots: Arc::new(Semaphore::new(threads)), jobs: Mutex::new(sender) }
    }

    /// Wait for a slot: at most one large call per evaluator is read and evaluated at a time,
    /// so memory stays bounded however many arrive together.
    pub async fn slot(&self) -> Result<Slot, Stopped> {
        self.slots.clone().acquire_owned().await.map(Slot).map_err(|_| Stopped)
    }

    /// Run `work` on an evaluator (the caller holds a slot) and wait for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        _slot: &Slot,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs.lock().map_err(|_| Stopped)?.send(job).map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_panics_is_answered_and_its_evaluator_goes_on() {
        let calls = LargeCalls::start(1);
        let slot = calls.slot().await.unwrap();
        assert!(calls.run(&slot, || -> u32 { panic!("a rule fell over") }).await.is_err());
        assert_eq!(calls.run(&slot, || 7).await.unwrap(), 7, "the one evaluator still runs calls");
    }

    #[tokio::test]
    async fn calls_wait_for_a_slot_and_all_run_on_the_same_threads() {
        let calls = Arc::new(LargeCalls::start(2));
        let first = calls.slot().await.unwrap();
        let _second = calls.slot().await.unwrap();
        let waiting = tokio::spawn({
            let calls = calls.clone();
            async move { calls.slot().await.is_ok() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a third large call waits while both slots are taken");
        drop(first);
        assert!(waiting.await.unwrap());
        let slot = calls.slot().await.unwrap();
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..20 {
            names.insert(calls.run(&slot, || std::thread::current().name().map(str::to_string)).await.unwrap());
        }
        assert!(names.iter().all(|n| n.as_deref().is_some_and(|n| n.starts_with("large-call-"))), "{names:?}");
        assert!(names.len() <= 2, "{names:?}");
    }
}
