/// Namespace of the `Diffu` module (filled in by its owning issue).
public enum DiffuModule {
    /// The module's name, for diagnostics.
    public static let name = "Diffu"
}
