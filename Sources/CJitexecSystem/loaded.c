/*
 * The shared objects this process has loaded, kept mapped until it exits.
 */
#define _GNU_SOURCE
#include "jitexec_system.h"

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

#define JX_KEEP_MAX 128

struct loaded_names {
    const char *names[JX_KEEP_MAX];
    size_t count;
};

static int note_loaded(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct loaded_names *loaded = data;
    /* The executable is named "" and the vDSO by no path: neither is ever unloaded. Past
     * JX_KEEP_MAX the rest are left as they are (only the exit's speed depends on it). */
    if (info->dlpi_name != NULL && info->dlpi_name[0] == '/' && loaded->count < JX_KEEP_MAX) {
        loaded->names[loaded->count++] = info->dlpi_name;
    }
    return 0;
}

void jx_keep_loaded_objects(void) {
    struct loaded_names loaded = {.count = 0};
    dl_iterate_phdr(note_loaded, &loaded);
    /* RTLD_NOLOAD loads nothing: it finds an object already loaded, and RTLD_NODELETE marks it so
     * no dlclose unmaps it. The reference taken is never given back. Called outside
     * dl_iterate_phdr, which holds the loader's lock while it runs its callback. */
    for (size_t i = 0; i < loaded.count; i++) {
        (void)dlopen(loaded.names[i], RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    }
}
