//! Worker threads for work that waits on the disk as much as it computes.
//!
//! Importing a package ends in a durable commit (the pack's fsync, the `packs/` fsync, the
//! index's), and writing an object into a repository goes through the filesystem several
//! times; on rayon's global pool, one thread per core, a core sits idle while its thread
//! waits. [`with_io_threads`] runs such work on twice as many threads as there are cores (at
//! least 4), so that the cores keep computing while some threads wait. Each of those threads
//! holds at most one file of up to 8 MiB in memory at a time.

/// Threads of the pool [`with_io_threads`] runs on, for `cores` cores.
pub fn io_threads(cores: usize) -> usize {
    cores.saturating_mul(2).clamp(4, 32)
}

/// Runs `work`, and every rayon parallel iterator inside it, on a pool of
/// [`io_threads`] threads; on rayon's global pool if that pool cannot be made.
/// When `RAYON_NUM_THREADS` is set, `work` runs as it would without this function, on
/// rayon's global pool, which that variable sizes (tests run one thread for a fixed order of
/// system calls).
pub fn with_io_threads<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return work();
    }
    match rayon::ThreadPoolBuilder::new()
        .num_threads(io_worker_count())
        .thread_name(|i| format!("rejig-io-{i}"))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// How many threads [`with_io_threads`] runs work on: [`io_threads`] for this machine's
/// cores, or rayon's global pool's size when `RAYON_NUM_THREADS` sets it.
pub fn io_worker_count() -> usize {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return rayon::current_num_threads();
    }
    io_threads(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twice_the_cores_within_bounds() {
        assert_eq!(io_threads(1), 4);
        assert_eq!(io_threads(2), 4);
        assert_eq!(io_threads(8), 16);
        assert_eq!(io_threads(64), 32);
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            let seen = with_io_threads(rayon::current_num_threads);
            assert_eq!(seen, io_threads(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)));
        }
    }
}
