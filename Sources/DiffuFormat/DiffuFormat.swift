/// Namespace of the `DiffuFormat` module (filled in by its owning issue).
public enum DiffuFormatModule {
    /// The module's name, for diagnostics.
    public static let name = "DiffuFormat"
}
