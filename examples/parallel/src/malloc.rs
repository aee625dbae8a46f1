//! Keeping freed memory in the process, so that gradients on several threads scale.
//!
//! A `_grad` of the large network allocates its intermediates and its gradient (about 2 MB a
//! shard) and frees them when the caller is done. With its default thresholds, glibc's malloc
//! serves blocks of that size by `mmap` and hands freed memory back to the kernel (`munmap`,
//! trimming an arena's top), so every call faults its pages in again, and the threads then wait
//! on each other in the kernel: 2 threads ran the large network's shards 1.3× as fast as 1 (the
//! perceptron's too). With both thresholds raised, freed blocks are reused from the arenas:
//! 1.9×. The same holds for any allocation-heavy code on glibc; `GLIBC_TUNABLES=
//! glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456` in the
//! environment, or another allocator, does the same from outside.

/// Raises glibc's `mmap` and trim thresholds (32 MiB, 256 MiB): blocks below 32 MiB come from
/// the heap, and up to 256 MiB of freed memory at an arena's top stays there. Call it at the
/// start of `main`, before any thread is spawned. Elsewhere than glibc it does nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use core::ffi::c_int;
        extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // <malloc.h>
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_MMAP_THRESHOLD: c_int = -3;
        // SAFETY: `mallopt` sets two of malloc's parameters; it takes and returns plain ints.
        let ok = unsafe { mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1 };
        assert!(ok, "glibc's mallopt refused the thresholds");
    }
}
