//! What IoT Hub Setup's window has in common with the benchmarks' blank Tauri window
//! (`examples/blank_window.rs`), so that the two are measured alike.

/// WebKitGTK settings for a window of forms, not animations: with accelerated compositing and
/// the DMA-BUF renderer off, the app and its web process use about 75 MB less (measured with
/// `cargo xtask bench`). A setting of the user's, or of the end-to-end tests (whose WebDriver
/// screenshots need compositing), wins. Call before any thread starts.
pub fn prefer_lean_webkit() {
    #[cfg(target_os = "linux")]
    for name in [
        "WEBKIT_DISABLE_COMPOSITING_MODE",
        "WEBKIT_DISABLE_DMABUF_RENDERER",
    ] {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, "1");
        }
    }
}
