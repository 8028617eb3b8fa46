// swift-tools-version: 6.0
// An example program that embeds Diffu as a library (a path dependency on the package above).
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, so find the checkout's folder name.
let diffuFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let diffuIdentity = diffuFolder.lastPathComponent.lowercased()

let package = Package(
    name: "DiffuExample",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: diffuFolder.path)],
    targets: [
        .executableTarget(name: "DiffuExample", dependencies: [.product(name: "Diffu", package: diffuIdentity)]),
    ]
)
