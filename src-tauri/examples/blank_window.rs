//! The peer of the desktop benchmarks: the smallest Tauri app, one window with one button, built
//! with the same Tauri, WebKitGTK and release profile as IoT Hub Setup. `cargo xtask bench`
//! measures both in the same run, so its figures say what the wizard adds to what any Tauri app
//! costs on the machine.

/// The first screen: one button with the id the benchmark waits for on the wizard's screen.
const PAGE: &str = "<!doctype html><title>Blank</title><button id=\"start-verify\">Start</button>";

fn main() {
    hubsetup_app::prefer_lean_webkit();
    let mut context = tauri::generate_context!();
    // The wizard's window is declared in the shared configuration; the peer opens its own.
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        // Served from memory through a custom scheme, as Tauri serves the wizard's own assets.
        .register_uri_scheme_protocol("blank", |_, _| {
            tauri::http::Response::builder()
                .header("content-type", "text/html")
                .body(PAGE.as_bytes())
                .expect("a static response")
        })
        .setup(|app| {
            let url = tauri::WebviewUrl::CustomProtocol("blank://localhost/".parse()?);
            tauri::WebviewWindowBuilder::new(app, "main", url)
                .title("Blank")
                .inner_size(1040.0, 740.0)
                .build()?;
            Ok(())
        })
        .run(context)
        .unwrap_or_else(|e| panic!("the blank window did not start: {e}"));
}
