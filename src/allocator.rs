//! The global allocator is mimalloc (declared in the crate root, so the binary, the tests
//! and the benchmarks all run on it).
//!
//! Why: a callback's memory is allocated on an HTTP worker and freed on the database writer
//! thread (and the other way round); glibc's malloc serialises such frees on its arenas'
//! locks. With mimalloc, `cargo bench --bench http_load` measured 26 µs of server CPU per
//! `/consent/text` call instead of 34, and 34 µs per `/user/lookup` instead of 48.
//!
//! Its defaults keep freed memory for a second and commit whole arenas, which made the peak
//! memory of a call with 8 MiB of images 7.8× the body instead of glibc's 3.7×. Arenas are
//! committed as used by a build define (`.cargo/config.toml`: the option is read when
//! mimalloc starts, before `main`), and [`tune`] makes it hand freed memory back at once
//! (`cargo bench --bench evaluate_load`).
//!
//! This module holds the crate's only `unsafe` code: one FFI call storing an integer option
//! (and, in its test, one reading options back).

use libmimalloc_sys::mi_option_t;

// The option number in mimalloc 3's `mi_option_e` (c_src/mimalloc/v3/include/mimalloc.h of
// libmimalloc-sys 0.1.49, pinned in Cargo.toml; the test below checks it by its
// defaults).
const PURGE_DELAY: mi_option_t = 15;

/// Sets mimalloc's purge delay to 0 (freed memory goes back to the system at once);
/// called first thing in `main`. `MIMALLOC_PURGE_DELAY`, when it is a number of
/// milliseconds, is used instead (anything else would make mimalloc fall back to its 1 s).
pub fn tune() {
    let delay = std::env::var("MIMALLOC_PURGE_DELAY")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    set(PURGE_DELAY, delay);
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

    const ARENA_EAGER_COMMIT: mi_option_t = 4;

    #[allow(unsafe_code)]
    fn get(option: mi_option_t) -> i64 {
        // SAFETY: reads an integer from mimalloc's option table.
        unsafe { libmimalloc_sys::mi_option_get(option) }
    }

    /// The option number is the one meant (mimalloc 3's purge delay defaults to 1000 ms),
    /// and the build define took: arenas are not committed eagerly.
    #[test]
    fn the_purge_delay_is_set_and_arenas_are_committed_as_used() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(PURGE_DELAY), 1000);
        }
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(
                get(ARENA_EAGER_COMMIT),
                0,
                "built without .cargo/config.toml?"
            );
        }
        tune();
        assert_eq!(get(PURGE_DELAY), 0);
    }
}
