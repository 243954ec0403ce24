/* GNU Nettle's SHA-256 (Debian's libnettle8, which apt itself depends on): the audit chain's and
   the recordings' hash. Small, so the setuid binaries load it at almost no cost (swift-crypto
   brought BoringSSL and FoundationEssentials into every start); its start-up CPU probe is left
   out (CJitexecNettle/nettle.c). */
#include <nettle/sha2.h>
