/// Namespace of the `DiffuGGUF` module (filled in by its owning issue).
public enum DiffuGGUFModule {
    /// The module's name, for diagnostics.
    public static let name = "DiffuGGUF"
}
