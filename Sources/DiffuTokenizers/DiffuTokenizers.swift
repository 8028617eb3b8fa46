/// Namespace of the `DiffuTokenizers` module (filled in by its owning issue).
public enum DiffuTokenizersModule {
    /// The module's name, for diagnostics.
    public static let name = "DiffuTokenizers"
}
