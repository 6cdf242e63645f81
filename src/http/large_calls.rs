//! Where calls with a large body are parsed and evaluated: a few threads of their own, one per
//! core, started with the service (the body itself is received on the worker). A large body
//! takes milliseconds of CPU, which would hold up the calls queued behind it on a worker.
//! Tokio's blocking pool would do that too, but it runs each call on whichever of its threads
//! is free or newly made, and every thread that ever held a large call keeps its freed memory
//! in the allocator's heap: peak memory then grows with the threads, not with the calls. Here
//! the same few threads hold them all, and the one idle the shortest time takes the next call,
//! so that calls one at a time reuse one heap.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// A call's evaluation, with the slot it holds until the evaluation ends.
struct Job {
    work: Box<dyn FnOnce() + Send>,
    slot: OwnedSemaphorePermit,
}

/// The evaluator threads, and one slot per thread.
pub struct LargeCalls {
    slots: Arc<Semaphore>,
    evaluators: Vec<mpsc::Sender<Job>>,
    /// The evaluators without a call, the most recently idle last. A slot is given back only
    /// after its evaluator is listed here, so whoever holds a slot finds one listed.
    idle: Arc<Mutex<Vec<usize>>>,
}

/// A slot taken: the call may receive its body, then be evaluated; held until its evaluation
/// ends, even when the caller has gone (timed out or disconnected) meanwhile.
pub struct Slot(OwnedSemaphorePermit);

/// The evaluation panicked (logged); the call is answered 500.
#[derive(Debug)]
pub struct EvaluationFailed;

impl LargeCalls {
    pub fn start(threads: usize) -> LargeCalls {
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
                            if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                                let message = panic
                                    .downcast_ref::<&str>()
                                    .map(|s| s.to_string())
                                    .or_else(|| panic.downcast_ref::<String>().cloned())
                                    .unwrap_or_default();
                                tracing::error!(%message, "a large call's evaluation panicked; it is answered 500");
                                idle.lock().unwrap_or_else(|e| e.into_inner()).push(n);
                            }
                            drop(slot);
                        }
                    })
                    .expect("the large-call threads start with the service");
                sender
            })
            .collect();
        LargeCalls { slots: Arc::new(Semaphore::new(threads)), evaluators, idle }
    }

    /// Wait for a slot: at most one large call per evaluator is received and evaluated at a
    /// time, so memory stays bounded however many arrive together.
    pub async fn slot(&self) -> Slot {
        match self.slots.clone().acquire_owned().await {
            Ok(permit) => Slot(permit),
            Err(_) => unreachable!("the slots are never closed"),
        }
    }

    /// Evaluate `work` on the evaluator idle the shortest time, and wait for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        slot: Slot,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, EvaluationFailed> {
        // A slot holder always finds an evaluator idle (see `idle`); were none, the first
        // would queue the call.
        let n = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or(0);
        let (tx, rx) = oneshot::channel();
        let idle = self.idle.clone();
        let work = Box::new(move || {
            // A caller that has gone is not evaluated for.
            let result = (!tx.is_closed()).then(work);
            // Listed idle before its caller hears back, so that the caller's next call (or the
            // next in line) comes to this evaluator: its heap holds what this call freed.
            idle.lock().unwrap_or_else(|e| e.into_inner()).push(n);
            if let Some(result) = result {
                let _ = tx.send(result);
            }
        });
        // The threads live as long as the service: sending cannot fail while `self` exists.
        let _ = self.evaluators[n].send(Job { work, slot: slot.0 });
        rx.await.map_err(|_| EvaluationFailed)
    }
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
        let calls = LargeCalls::start(1);
        assert!(calls.run(calls.slot().await, || -> u32 { panic!("a rule fell over") }).await.is_err());
        assert_eq!(calls.run(calls.slot().await, || 7).await.unwrap(), 7, "the one evaluator still runs calls");
    }

    #[tokio::test]
    async fn calls_one_at_a_time_reuse_one_evaluator() {
        let calls = LargeCalls::start(2);
        let first = calls.run(calls.slot().await, this_thread).await.unwrap();
        assert_ne!(first, this_thread(), "evaluated off the caller's thread");
        for _ in 0..10 {
            assert_eq!(calls.run(calls.slot().await, this_thread).await.unwrap(), first);
        }
    }

    #[tokio::test]
    async fn a_slot_is_held_until_its_evaluation_ends_even_when_the_caller_has_gone() {
        let calls = Arc::new(LargeCalls::start(2));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = oneshot::channel::<()>();
        // The first caller gives up while its evaluation runs: its slot stays taken.
        let slow = tokio::spawn({
            let calls = calls.clone();
            async move {
                let slot = calls.slot().await;
                calls
                    .run(slot, move || {
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
}
