//! A small pool of OS threads that run tick tasks at their deadlines.

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// Something the pool runs at fixed deadlines: a match.
pub trait TickTask: Send + 'static {
    /// When this task next wants to run.
    fn deadline(&self) -> Instant;
    /// Runs the task once it is due; `false` when it has ended and should be dropped.
    fn run(&mut self, now: Instant) -> bool;
}

struct Worker {
    tasks: Sender<Box<dyn TickTask>>,
    load: Arc<AtomicUsize>,
}

/// OS threads dedicated to simulation, so that a busy network runtime never
/// delays a tick and a tick never blocks a network task. Dropping the pool
/// stops its threads after their current tick and drops their tasks.
pub struct TickPool {
    workers: Vec<Worker>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl TickPool {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let mut workers = Vec::new();
        let mut handles = Vec::new();
        for index in 0..threads.max(1) {
            let (tx, rx) = channel::unbounded();
            let load = Arc::new(AtomicUsize::new(0));
            let thread_load = load.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("tickwire-tick-{index}"))
                    .spawn(move || run_thread(rx, thread_load))?,
            );
            workers.push(Worker { tasks: tx, load });
        }
        Ok(TickPool {
            workers,
            threads: Mutex::new(handles),
        })
    }

    /// Hands a task to the least loaded thread.
    pub fn spawn(&self, task: Box<dyn TickTask>) {
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
            .expect("a pool has at least one thread");
        worker.load.fetch_add(1, Ordering::Relaxed);
        // The thread only exits once the pool is dropped, so the send cannot fail
        // while `self` exists.
        let _ = worker.tasks.send(task);
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }
}

impl Drop for TickPool {
    fn drop(&mut self) {
        self.workers.clear(); // disconnects every thread's channel
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

fn run_thread(rx: Receiver<Box<dyn TickTask>>, load: Arc<AtomicUsize>) {
    let mut tasks: Vec<Box<dyn TickTask>> = Vec::new();
    loop {
        let next = tasks.iter().map(|t| t.deadline()).min();
        // Sleep until the next deadline, waking early for a new task.
        let received = match next {
            Some(deadline) => rx.recv_deadline(deadline),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(task) => {
                tasks.push(task);
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        tasks.retain_mut(|task| {
            if task.deadline() > now {
                return true;
            }
            let keep = task.run(now);
            if !keep {
                load.fetch_sub(1, Ordering::Relaxed);
            }
            keep
        });
    }
}
