//! The global allocator is mimalloc (declared in the crate root, so the binary, the tests
//! and the benchmarks all run on it).
//!
//! Why: a callback's memory is allocated on an HTTP worker and freed on the database writer
//! thread (and the other way round); glibc's malloc serialises such frees on its arenas'
//! locks. With mimalloc, `cargo bench --bench http_load` measured 26 µs of server CPU per
//! `/consent/text` call instead of 34, and 34 µs per `/user/lookup` instead of 48.
//!
//! Its defaults keep freed memory for a second and commit whole arenas, which made the peak
//! memory of a call with 8 MiB of images 7.8× the body instead of glibc's 3.7×; [`tune`]
//! makes it hand freed memory back at once and commit arenas as they are used (measured
//! 2.9×, `cargo bench --bench evaluate_load`).
//!
//! This module holds the crate's only `unsafe` code: two calls storing an integer option.

use libmimalloc_sys::mi_option_t;

// Option numbers of mimalloc 3's `mi_option_e` (c_src/mimalloc/v3/include/mimalloc.h of
// libmimalloc-sys 0.1.49, pinned in Cargo.toml; the test below checks them by their
// defaults).
const ARENA_EAGER_COMMIT: mi_option_t = 4;
const PURGE_DELAY: mi_option_t = 15;

/// Sets mimalloc's options for this service; called first thing in `main`. They win over
/// the `MIMALLOC_*` environment variables.
pub fn tune() {
    set(PURGE_DELAY, 0);
    set(ARENA_EAGER_COMMIT, 0);
}

#[allow(unsafe_code)]
fn set(option: mi_option_t, value: i64) {
    // SAFETY: mi_option_set stores an integer in mimalloc's option table (any option
    // number and value is accepted); it is read again each time mimalloc purges memory or
    // reserves an arena.
    unsafe { libmimalloc_sys::mi_option_set(option, value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unsafe_code)]
    fn get(option: mi_option_t) -> i64 {
        // SAFETY: reads an integer from mimalloc's option table.
        unsafe { libmimalloc_sys::mi_option_get(option) }
    }

    /// The option numbers are the ones meant: their defaults in mimalloc 3 (purge delay
    /// 1000 ms, arena eager commit 2) read back before `tune` changes them.
    #[test]
    fn option_numbers_name_the_purge_delay_and_the_arena_commit() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(PURGE_DELAY), 1000);
        }
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(get(ARENA_EAGER_COMMIT), 2);
        }
        tune();
        assert_eq!((get(PURGE_DELAY), get(ARENA_EAGER_COMMIT)), (0, 0));
    }
}
