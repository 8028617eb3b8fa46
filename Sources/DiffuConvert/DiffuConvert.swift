/// Namespace of the `DiffuConvert` module (filled in by its owning issue).
public enum DiffuConvertModule {
    /// The module's name, for diagnostics.
    public static let name = "DiffuConvert"
}
