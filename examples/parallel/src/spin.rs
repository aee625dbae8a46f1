//! Keeping a rayon pool's workers looking for work between calls, so that a short parallel call
//! does not wait for a sleeping worker to wake up.
//!
//! An idle rayon worker spins for a moment and then sleeps; the next `join` wakes it. On a KVM
//! guest whose idle vCPUs halt at once (`haltpoll.guest_halt_poll_ns=0` on the kernel command
//! line of the machines these benchmarks ran on), the woken worker starts on the half handed to
//! it 38 µs later (`parallel/wake` in the scaling benchmark), which caps a call of T on two
//! threads at 2T/(T + 38 µs): 1.71× for the perceptron's 228 µs. OpenMP runtimes meet the same
//! problem the same way: their threads spin for a while after a parallel region before they
//! sleep (`KMP_BLOCKTIME`, 200 ms by default in Intel's).
//!
//! [`keep_spinning`] gives every worker of a pool a job that runs the pool's pending work
//! (`rayon::yield_now`, which takes work from the worker's own deque, steals from the others and
//! takes injected jobs) and spins when there is none, until the returned guard is dropped or
//! `linger` passes without work. The cost is what OpenMP's is: the pool's cores stay busy while
//! it lives, so keep it for a training loop, not for a program that does other work between
//! batches.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the workers of a pool kept spinning look for work before they sleep again: the block
/// time OpenMP runtimes use by default.
pub const LINGER: Duration = Duration::from_millis(200);

/// While it lives, the pool's workers look for work instead of sleeping; dropping it lets them
/// sleep again (each when the job it is running, if any, returns).
pub struct Spinning {
    stop: Arc<AtomicBool>,
    running: Arc<AtomicUsize>,
}

impl Spinning {
    /// How many workers are in their spinning job now (they leave it when the guard is dropped
    /// or `linger` passes without work).
    #[allow(dead_code)] // read by the tests
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }
}

impl Drop for Spinning {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Keeps every worker of `pool` looking for work until the guard is dropped, or until `linger`
/// passes without any work found (then the workers sleep between calls again, as without it).
pub fn keep_spinning(pool: &rayon::ThreadPool, linger: Duration) -> Spinning {
    let stop = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicUsize::new(pool.current_num_threads()));
    let (flag, count) = (Arc::clone(&stop), Arc::clone(&running));
    pool.spawn_broadcast(move |_| {
        let mut last = Instant::now();
        while !flag.load(Ordering::Relaxed) {
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => last = Instant::now(),
                _ if last.elapsed() > linger => break,
                _ => std::hint::spin_loop(),
            }
        }
        count.fetch_sub(1, Ordering::Release);
    });
    Spinning { stop, running }
}

// The scaling benchmark includes this file too, built with its own harness, which runs no tests:
// there the helpers below are unused.
#[cfg(test)]
#[allow(dead_code)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
    }

    /// Waits up to ten seconds for `done` (a loaded machine may start the jobs late).
    fn eventually(done: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        done()
    }

    /// Σ k² for k < n, by halves on the pool.
    fn sum_squares(range: std::ops::Range<u64>) -> u64 {
        if range.end - range.start <= 64 {
            return range.map(|k| k * k).sum();
        }
        let mid = range.start + (range.end - range.start) / 2;
        let (a, b) = rayon::join(|| sum_squares(range.start..mid), || sum_squares(mid..range.end));
        a + b
    }

    #[test]
    fn work_runs_on_spinning_workers_and_they_stop_when_dropped() {
        let pool = pool(2);
        let spinning = keep_spinning(&pool, Duration::from_secs(60));
        // n(n−1)(2n−1)/6 for n = 10 000, from the pool (injected) and from inside it
        let want = 10_000u64 * 9_999 * 19_999 / 6;
        for _ in 0..50 {
            assert_eq!(pool.install(|| sum_squares(0..10_000)), want);
        }
        assert_eq!(spinning.running(), 2);
        drop_and_check(spinning);
        assert_eq!(pool.install(|| sum_squares(0..10_000)), want);
    }

    fn drop_and_check(spinning: Spinning) {
        let running = Arc::clone(&spinning.running);
        drop(spinning);
        assert!(eventually(|| running.load(Ordering::Acquire) == 0), "the workers kept spinning");
    }

    #[test]
    fn workers_stop_after_lingering_without_work() {
        let pool = pool(2);
        let spinning = keep_spinning(&pool, Duration::from_millis(20));
        assert!(eventually(|| spinning.running() == 0), "the workers kept spinning past `linger`");
        assert_eq!(pool.install(|| sum_squares(0..1000)), 1000 * 999 * 1999 / 6);
    }
}
