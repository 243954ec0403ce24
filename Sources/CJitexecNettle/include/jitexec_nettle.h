#ifndef JITEXEC_NETTLE_H
#define JITEXEC_NETTLE_H

/* Nothing to call: this target only defines Nettle's internal _nettle_sha256_compress for the
 * link (nettle.c says why). It is a target of its own, a dependency of JitexecStore, so that only
 * programs that link Nettle link it. */

#endif
