//! A small pool of OS threads that run tick tasks at their deadlines, and a
//! watchdog that reports a task running far past its slot.

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Something the pool runs at fixed deadlines: a match.
pub trait TickTask: Send + 'static {
    /// When this task next wants to run.
    fn deadline(&self) -> Instant;
    /// Runs the task once it is due; `false` when it has ended and should be dropped.
    fn run(&mut self, now: Instant) -> bool;
    /// Names the task in the watchdog's reports (a match id).
    fn id(&self) -> u64;
}

/// What a tick thread is doing, for the watchdog: written twice per task
/// run, read a few times per watchdog period.
#[derive(Default)]
struct Activity {
    /// When the running task started, in nanoseconds since the pool's epoch
    /// plus one; 0 while the thread is between tasks.
    since: AtomicU64,
    /// The running task's id.
    task: AtomicU64,
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
    /// Dropped with the pool, which stops the watchdog.
    _watchdog: Option<Sender<()>>,
}

impl TickPool {
    /// `threads` tick threads; a task running longer than `watchdog` is
    /// reported (log line and `tickwire_tick_stalls_total`) while it runs.
    pub fn new(threads: usize, watchdog: Duration) -> std::io::Result<Self> {
        let epoch = Instant::now();
        let mut workers = Vec::new();
        let mut handles = Vec::new();
        let mut activities = Vec::new();
        for index in 0..threads.max(1) {
            let (tx, rx) = channel::unbounded();
            let load = Arc::new(AtomicUsize::new(0));
            let thread_load = load.clone();
            let activity = Arc::new(Activity::default());
            let thread_activity = activity.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("tickwire-tick-{index}"))
                    .spawn(move || run_thread(rx, thread_load, &thread_activity, epoch))?,
            );
            activities.push(activity);
            workers.push(Worker { tasks: tx, load });
        }
        let (stop, stopped) = channel::bounded::<()>(0);
        std::thread::Builder::new()
            .name("tickwire-watchdog".into())
            .spawn(move || watch(&activities, epoch, watchdog, &stopped))?;
        Ok(TickPool {
            workers,
            threads: Mutex::new(handles),
            _watchdog: Some(stop),
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

/// How long dropping the pool waits for its threads to finish their tick.
const STOP_WAIT: Duration = Duration::from_secs(2);

impl Drop for TickPool {
    fn drop(&mut self) {
        self.workers.clear(); // disconnects every thread's channel
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        // A thread stuck in game code never finishes its tick: wait a while,
        // then leave it (the process is stopping) rather than hang the stop.
        let deadline = Instant::now() + STOP_WAIT;
        for handle in handles {
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                tracing::warn!("a tick thread is still running game code; not waiting for it");
            }
        }
    }
}

/// Reports every task run that lasts longer than `bound`, once per run,
/// until the pool is dropped. A stalled task cannot be interrupted (it is
/// the game's own code); the report names it so an operator can act.
fn watch(activities: &[Arc<Activity>], epoch: Instant, bound: Duration, stop: &Receiver<()>) {
    let bound_nanos = bound.as_nanos() as u64;
    let mut reported = vec![0u64; activities.len()];
    let period = (bound / 4).max(Duration::from_millis(5));
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(period) {
        let now = epoch.elapsed().as_nanos() as u64 + 1;
        for (thread, activity) in activities.iter().enumerate() {
            let since = activity.since.load(Ordering::Acquire);
            if since == 0 || reported[thread] == since || now.saturating_sub(since) < bound_nanos {
                continue;
            }
            reported[thread] = since;
            let running = Duration::from_nanos(now - since);
            tracing::warn!(
                tick_thread = thread,
                match_id = activity.task.load(Ordering::Relaxed),
                running_ms = running.as_millis() as u64,
                bound_ms = bound.as_millis() as u64,
                "a tick is running past the watchdog bound; every match on this tick thread waits"
            );
            metrics::counter!("tickwire_tick_stalls_total").increment(1);
        }
    }
}

fn run_thread(
    rx: Receiver<Box<dyn TickTask>>,
    load: Arc<AtomicUsize>,
    activity: &Activity,
    epoch: Instant,
) {
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
            activity.task.store(task.id(), Ordering::Relaxed);
            let started = epoch.elapsed().as_nanos() as u64 + 1;
            activity.since.store(started, Ordering::Release);
            let keep = task.run(now);
            activity.since.store(0, Ordering::Release);
            if !keep {
                load.fetch_sub(1, Ordering::Relaxed);
            }
            keep
        });
    }
}
