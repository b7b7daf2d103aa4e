//! IoT Hub Setup's desktop shell. Every command converts its arguments, calls one function of
//! the wizard's [`Session`], and maps the error; the logic lives in the crates, where it is
//! tested without a window.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;

use hubsetup_wizard::Session;
use tauri::{Emitter, Manager};

fn main() {
    hubsetup_app::prefer_lean_webkit();
    let state_dir = match hubsetup_platform::paths::state_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("IoT Hub Setup cannot start: {e}");
            std::process::exit(1);
        }
    };
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(Session::open(&state_dir))
        .manage(hubsetup_platform::SecretClipboard::new())
        .invoke_handler(tauri::generate_handler![
            commands::wizard_view,
            commands::wizard_start,
            commands::wizard_next,
            commands::wizard_back,
            commands::paste_string,
            commands::reveal_string,
            commands::copy_string,
            commands::forget_string,
            commands::verify_string,
            commands::proxy_sign_in,
            commands::find_key,
            commands::vault_list,
            commands::vault_save,
            commands::vault_load,
            commands::vault_delete,
            commands::key_info,
            commands::export_string,
            commands::open_received,
            commands::own_keys,
            commands::sign_in_methods,
            commands::sign_in,
            commands::subscriptions,
            commands::resource_groups,
            commands::regions,
            commands::register_provider,
            commands::hubs,
            commands::check_hub_name,
            commands::permissions,
            commands::hub_facts,
            commands::policy_requirements,
            commands::tenants,
            commands::switch_tenant,
            commands::tiers,
            commands::plan_hub,
            commands::formats,
            commands::handoffs,
            commands::prices,
            commands::capacity_plan,
            commands::create_hub,
            commands::fix_reach,
            commands::cancel,
            commands::watch_options,
            commands::create_consumer_group,
            commands::delete_consumer_group,
            commands::watch_start,
            commands::watch_stop,
            commands::watch_save,
            commands::storage_options,
            commands::check_storage_name,
            commands::plan_keep,
            commands::wait_stored,
            commands::hub_health,
            commands::hub_alerts,
            commands::set_up_alerts,
            commands::send_test_email,
            commands::remove_alerts,
        ])
        .setup(|app| {
            // Provisioning progress (device codes, hub creation) goes to the webview as events.
            let handle = app.handle().clone();
            app.state::<Session>()
                .set_reporter(std::sync::Arc::new(move |progress| {
                    let _ = handle.emit("progress", progress);
                }));
            Ok(())
        })
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("IoT Hub Setup stopped: {e}");
            std::process::exit(1);
        });
}
