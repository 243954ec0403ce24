import Testing

@testable import JitexecCore

/// PAM runs with root as the real uid, so a service that lets root through (pam_rootok) would pass
/// every caller: jitexec refuses such a service file, also when an included file names it.
@Suite struct PAMServiceCheckTests {
    @Test func rootOKInAnActiveLineIsFound() {
        #expect(Authentication.mentionsRootOK(Array("auth\tsufficient pam_rootok.so\n@include common-auth\n".utf8)))
    }

    @Test func rootOKAtEitherEndOfTheTextIsFound() {
        #expect(Authentication.mentionsRootOK(Array("pam_rootok".utf8)))
        #expect(Authentication.mentionsRootOK(Array("auth sufficient pam_rootok".utf8)))
        #expect(!Authentication.mentionsRootOK(Array("pam_rooto".utf8)))
        #expect(!Authentication.mentionsRootOK([]))
    }

    @Test func rootOKInACommentIsIgnored() {
        #expect(!Authentication.mentionsRootOK(Array("# auth sufficient pam_rootok.so\n@include common-auth\n".utf8)))
    }

    @Test func rootOKIsFoundInAPathAndAfterTabsAndSpaces() {
        #expect(Authentication.mentionsRootOK(Array("auth  [success=done]\t/lib/security/pam_rootok.so\n".utf8)))
        #expect(Authentication.mentionsRootOK(Array("\t auth sufficient pam_rootok.so\r\n".utf8)))
        #expect(
            !Authentication.mentionsRootOK(Array("  # auth sufficient pam_rootok.so\nauth required pam_unix.so\n".utf8))
        )
        #expect(!Authentication.mentionsRootOK(Array("auth required pam_root.so ok\n".utf8)))
        #expect(
            Authentication.includes(Array("@include\tcommon-auth\n  @include common-session\n".utf8)) == [
                "common-auth", "common-session",
            ])
    }

    @Test func includesAreTheNamesAfterAtInclude() {
        let text = Array("#%PAM-1.0\nsession required pam_limits.so\n@include  common-auth\n@include /etc/x\n".utf8)
        #expect(Authentication.includes(text) == ["common-auth"])
    }

    @Test func linesAreReadToTheLastByteAndOnlyWholeWordsCount() {
        // No newline at the end, empty and blank lines, a word that only starts like the keyword,
        // the keyword with no name, a commented include, more words after the name.
        #expect(Authentication.mentionsRootOK(Array("\n \t\n\nauth sufficient pam_rootok.so".utf8)))
        #expect(!Authentication.mentionsRootOK(Array("auth sufficient pam_root\nok.so\n".utf8)))
        #expect(!Authentication.mentionsRootOK(Array("".utf8)))
        let text = Array("@includes x\n@include\n # @include hidden\n\n@include last extra".utf8)
        #expect(Authentication.includes(text) == ["last"])
    }
}
