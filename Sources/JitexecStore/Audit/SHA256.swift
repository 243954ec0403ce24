import CNettle
import JitexecBase

/// SHA-256 through GNU Nettle (Debian's libnettle8): the audit chain's hash and the recordings'.
struct SHA256 {
    private var context = sha256_ctx()

    init() { nettle_sha256_init(&context) }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        nettle_sha256_update(&context, bytes.count, base.assumingMemoryBound(to: UInt8.self))
    }

    /// The digest in lower-case hex; the hasher starts over.
    mutating func hexDigest() -> String {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_SIZE))
        digest.withUnsafeMutableBufferPointer { nettle_sha256_digest(&context, $0.count, $0.baseAddress) }
        return digest.withUnsafeBytes { Hex.encode($0) }
    }

    /// Whether the digest, in lower-case hex, is exactly `hex` (`hexDigest() == hex`, without
    /// making either string); the hasher starts over.
    mutating func digestMatches(hex: UnsafeRawBufferPointer) -> Bool {
        var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &digest) { raw in
            nettle_sha256_digest(&context, raw.count, raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return withUnsafeBytes(of: &digest) { Hex.matches($0, hex: hex) }
    }
}
