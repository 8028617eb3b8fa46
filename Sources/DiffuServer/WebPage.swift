/// The live denoising page served at `GET /`.
enum WebPage {
    /// The page: one static HTML document with its script inline.
    static let html = """
    <!doctype html><html><head><meta charset="utf-8"><title>diffu serve</title></head>
    <body><p>diffu serve: POST /v1/completions, /v1/chat/completions</p></body></html>
    """
}
