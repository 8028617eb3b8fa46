/// Namespace of the `DiffuSamplers` module (filled in by its owning issue).
public enum DiffuSamplersModule {
    /// The module's name, for diagnostics.
    public static let name = "DiffuSamplers"
}
