import Foundation
import Testing
import WaveRTALSA
import WaveRTEngine
import WaveRTTestSupport

/// The user's ALSA configuration is the one used, with wavert's PCMs added
/// under names the user has not taken. Each test passes its own file list
/// (what `ALSA_CONFIG_PATH` would say), so nothing process-wide changes.
@Suite struct ALSAConfigurationTests {
    init() { ALSATestEnvironment.setUp() }

    /// A directory with `user.conf` (alsa.conf first, then `text`), removed by the caller.
    static func userConfiguration(_ text: String) throws -> (directory: String, file: String) {
        let directory = ALSATestEnvironment.temporaryPath("alsa-config", "d")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/user.conf"
        try ("</usr/share/alsa/alsa.conf>\n" + text).write(toFile: file, atomically: true, encoding: .utf8)
        return (directory, file)
    }

    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Resources/alsa/wavert.conf")

    @Test func shippedConfigurationIsTheOneTheEmulatorUses() throws {
        #expect(try String(contentsOf: Self.resources, encoding: .utf8) == ALSAConfiguration.wavertText)
    }

    @Test func aPCMTheUserDefinesWinsOverWavertsOfTheSameName() throws {
        let raw = ALSATestEnvironment.temporaryPath("user-capture", "raw")
        let (directory, file) = try Self.userConfiguration("""
            !@hooks [ ]
            pcm.wavert_capture { type file slave.pcm null file "\(raw)" format raw }
            """)
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: raw)
        }
        let configuration = try ALSAConfiguration(userFiles: file)
        let pcm = try ALSAPCM(name: "wavert_capture", configuration: configuration)
        try pcm.configure(format: .cd48k, latencyMicroseconds: 40_000)
        let silence = [UInt8](repeating: 0, count: 1_000 * 4)
        #expect(silence.withUnsafeBytes { pcm.write($0.baseAddress!, count: 1_000) } == 1_000)
        pcm.drain()
        pcm.close()
        // The user's definition: raw samples in the user's file, no WAV header.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: raw))
        #expect(bytes.count == 4_000)
        #expect(!bytes.starts(with: Data("RIFF".utf8)))
        // wavert's other PCM, which the user did not define, is still there.
        #expect(configuration.definesPCM("wavert_capture_s32"))
    }

    @Test func wavertsPCMsAreAddedWhereTheUserHasNone() throws {
        let (directory, file) = try Self.userConfiguration("!@hooks [ ]\n")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = try ALSAConfiguration(userFiles: file)
        #expect(configuration.definesPCM("wavert_capture:FILE=/tmp/x.wav"))
        #expect(configuration.definesPCM("wavert_capture_s32"))
        #expect(configuration.definesPCM("wavert_input:FILE=/tmp/x.raw"))
        #expect(configuration.definesPCM("null"))  // and the standard ones
        #expect(!configuration.definesPCM("wavert_no_such_pcm"))
    }

    /// What alsa.conf's hooks load (/etc/asound.conf, ~/.asoundrc, conf.d) is
    /// in the tree: a hook loading a conf.d directory of the test's own.
    @Test func filesTheHooksLoadAreHonoured() throws {
        let (directory, file) = try Self.userConfiguration("")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/conf.d", withIntermediateDirectories: true)
        try "pcm.wavert_hooked { type null }\n".write(toFile: directory + "/conf.d/50-hooked.conf", atomically: true, encoding: .utf8)
        try ("</usr/share/alsa/alsa.conf>\n" + """
            !@hooks [ { func load files [ "\(directory)/conf.d" ] errors false } ]
            """).write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try ALSAConfiguration(userFiles: file)
        #expect(configuration.definesPCM("wavert_hooked"))
        _ = try ALSAPCM(name: "wavert_hooked", configuration: configuration)
        // Loading the same file as text (what the player did before) runs no hooks.
        #expect(!(try ALSAConfiguration(text: "<\(file)>").definesPCM("wavert_hooked")))
    }

    @Test func withoutAFileListTheUsersALSA_CONFIG_PATHIsRead() throws {
        let configuration = try ALSAConfiguration()
        #expect(configuration.origin == "ALSA_CONFIG_PATH=\(ALSATestEnvironment.configurationPath)")
        #expect(configuration.definesPCM(ALSATestEnvironment.capturePCM))
        #expect(configuration.definesPCM("wavert_capture"))
    }

    @Test func aBrokenUserConfigurationIsAClearError() throws {
        let (directory, file) = try Self.userConfiguration("pcm.broken { type file \n")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try ALSAConfiguration(userFiles: file)
            Issue.record("a configuration with an unterminated block loaded")
        } catch {
            #expect("\(error)".contains("ALSA configuration: reading \(file)"), "\(error)")
        }
    }
}
