#include <stddef.h>
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro Swift cannot import. */
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

/* sqlite3_db_config is variadic. */
static inline int csqlite_db_config_int(sqlite3 *db, int op, int value, int *out) {
    return sqlite3_db_config(db, op, value, out);
}

/* The "jitexec" VFS: SQLite's default ("unix") with one change. SQLite opens the write-ahead log
 * with SQLITE_OPEN_CREATE every time, and a file opened so has its directory fsynced at its first
 * sync: in jitexec, every run's durable exec.start commit, though the log almost always exists
 * already (a run ends without closing the store, so the log stays). This VFS opens the log without
 * SQLITE_OPEN_CREATE first, and with it (SQLite's own open, the directory synced) only when it is
 * missing. The directory entry of an existing log was synced by the process that created it, at
 * its first commit. Everything else is the default VFS's own (its pAppData here). */
static inline int csqlite_wal_vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                                       int *out_flags) {
    sqlite3_vfs *base = (sqlite3_vfs *)vfs->pAppData;
    if ((flags & SQLITE_OPEN_WAL) && (flags & SQLITE_OPEN_CREATE)) {
        int rc = base->xOpen(base, name, file, flags & ~SQLITE_OPEN_CREATE, out_flags);
        if ((rc & 0xff) != SQLITE_CANTOPEN) return rc;
    }
    return base->xOpen(base, name, file, flags, out_flags);
}

/* Sets SQLite up for this process, once, before its first connection: returns the "jitexec" VFS's
 * name for sqlite3_open_v2, or NULL (the default VFS) when it could not be registered.
 *
 * First, before SQLite initialises (sqlite3_vfs_find does): no memory statistics. SQLite then
 * counts every allocation under a global mutex (SQLITE_CONFIG_MEMSTATUS, on by default), which a
 * run pays for on each of the thousands of allocations the schema's parse and the statements'
 * compilation make; jitexec reads none of those statistics and sets no heap limit (the calls that
 * need them). Called after SQLite has initialised, sqlite3_config changes nothing (SQLITE_MISUSE),
 * which costs only the time.
 * Then the VFS, registered not as the default. */
static inline const char *csqlite_set_up_process(void) {
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    static const char name[] = "jitexec";
    if (sqlite3_vfs_find(name) != NULL) return name;
    sqlite3_vfs *base = sqlite3_vfs_find("unix");
    if (base == NULL || base->iVersion < 1) return NULL;
    sqlite3_vfs *vfs = (sqlite3_vfs *)sqlite3_malloc((int)sizeof *vfs);
    if (vfs == NULL) return NULL;
    *vfs = *base;
    vfs->zName = name;
    vfs->pNext = NULL;
    vfs->pAppData = base;
    vfs->xOpen = csqlite_wal_vfs_open;
    return sqlite3_vfs_register(vfs, 0) == SQLITE_OK ? name : NULL;
}
