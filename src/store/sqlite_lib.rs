//! Settings of the SQLite library itself, shared by every connection in the process (sqlx's and
//! the readers'), made once before the first connection opens.

use std::ffi::{c_int, c_void};
use std::sync::Once;

use rusqlite::ffi;

// SQLite allocates through the C library's malloc unless given an allocator; numberd's own is
// mimalloc, which is faster and keeps one heap for both.
unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_malloc(n as usize)
}

unsafe extern "C" fn free(p: *mut c_void) {
    libmimalloc_sys::mi_free(p)
}

unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    libmimalloc_sys::mi_realloc(p, n as usize)
}

unsafe extern "C" fn size(p: *mut c_void) -> c_int {
    libmimalloc_sys::mi_usable_size(p) as c_int
}

unsafe extern "C" fn roundup(n: c_int) -> c_int {
    libmimalloc_sys::mi_good_size(n as usize) as c_int
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}

/// Configures SQLite for this process. It only takes effect before SQLite's first use, so
/// [`super::Db::connect`] calls it before opening anything; a process that used SQLite earlier
/// keeps its defaults.
pub(crate) fn configure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: both options are documented as safe to set before sqlite3_initialize (SQLite
        // copies the methods); after it they fail with SQLITE_MISUSE and change nothing.
        let (stats, alloc) = unsafe {
            // Allocation statistics take a global mutex on every malloc and free; nothing reads them.
            let stats = ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
            let alloc = ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods);
            (stats, alloc)
        };
        if stats != ffi::SQLITE_OK || alloc != ffi::SQLITE_OK {
            tracing::debug!(stats, alloc, "SQLite was in use before numberd configured it; its defaults stay");
        }
    });
}
