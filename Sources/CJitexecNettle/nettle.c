/* GNU Nettle's SHA-256 without its start-up CPU probe.
 *
 * Debian builds Nettle "fat": one library for every x86-64 CPU, whose internal functions are
 * chosen at start by a constructor (fat-x86_64.o's fat_init) that asks the CPU what it has with
 * three cpuid instructions. On the virtual machines jitexec was measured on, cpuid traps to the
 * hypervisor, 9 microseconds each: 27 of every run's, and jitctl's, paid before main.
 *
 * The audit chain and the recordings use SHA-256 only. Nettle's sha256.o calls one internal
 * function, _nettle_sha256_compress, which the fat object defines as a jump through the pointer
 * fat_init sets. Defined here, in an object the binaries link before the archive, it is Nettle's
 * own x86-64 assembly version (sha256-compress.o, which runs on every x86-64 CPU); the linker then
 * takes nothing from fat-x86_64.o, so neither its constructor nor its cpuid runs. What is lost is
 * the SHA-NI version on CPUs that have it: microseconds for the few kilobytes a run hashes.
 *
 * Nettle 3.8's internal signature (sha2-internal.h, and the fat object's sha256_compress_func).
 * Another Nettle fails to link rather than miscompute: 3.9 renamed both functions
 * (_nettle_sha256_compress_n), so the x86-64 one is then missing. The unit test
 * AuditChainTests.sha256MatchesThePublishedDigests checks the digests against published values,
 * and the integration tests compare recordings' digests with Python's hashlib. Built for another
 * architecture, this file defines nothing and Nettle's own dispatch stays. */
#include <stdint.h>

#if defined(__x86_64__)
void _nettle_sha256_compress_x86_64(uint32_t *state, const uint8_t *input, const uint32_t *k);
void _nettle_sha256_compress(uint32_t *state, const uint8_t *input, const uint32_t *k);

void _nettle_sha256_compress(uint32_t *state, const uint8_t *input, const uint32_t *k) {
    _nettle_sha256_compress_x86_64(state, input, k);
}
#endif
