/*
 * PAM's modules, and with them the libraries they loaded, kept mapped until the process exits.
 */
#define _GNU_SOURCE
#include "jitexec_system.h"

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>
#include <string.h>

#define JX_KEEP_MAX 128

struct loaded_names {
    const char *names[JX_KEEP_MAX];
    size_t count;
};

static int note_loaded(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct loaded_names *loaded = data;
    /* Only PAM's modules (in a "security" directory, as PAM keeps them): a module kept loaded
     * keeps the libraries it needs loaded too, and nothing else is unloaded (what the executable
     * needs, NSS's modules). Each dlopen below compares its name with every loaded object's, so
     * the dozen libraries the modules bring are left out (callgrind: 111,000 instructions for all
     * objects). A module found elsewhere, or past JX_KEEP_MAX, is unloaded by pam_end as before:
     * only the exit's speed depends on it. */
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "/security/") != NULL && loaded->count < JX_KEEP_MAX) {
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
