//! Where IoT Hub Setup keeps its files on each operating system.
//!
//! Two folders, as each OS expects them: settings (the vault's index of saved strings) in the
//! user's config folder, which roams with a Windows profile as the Credential Manager entries
//! it lists do; and state (the wizard's progress, hub-creation records, the in-app sandbox) in
//! the local folder, which stays on this computer.
//!
//! | OS      | settings                                   | state                                          |
//! |---------|--------------------------------------------|------------------------------------------------|
//! | Linux   | `~/.config/io.hubsetup.iot-hub-setup`      | `~/.local/state/io.hubsetup.iot-hub-setup`     |
//! | macOS   | `~/Library/Application Support/io.hubsetup.iot-hub-setup` (both)                           |
//! | Windows | `%APPDATA%\io.hubsetup.iot-hub-setup`      | `%LOCALAPPDATA%\io.hubsetup.iot-hub-setup`     |

use std::ffi::OsString;
use std::path::PathBuf;

/// The app's identifier: its folders' name, the keychain service, Tauri's identifier.
pub const APP_ID: &str = "io.hubsetup.iot-hub-setup";

/// Overrides the settings folder (tests, portable setups).
pub const CONFIG_DIR_ENV: &str = "HUBSETUP_CONFIG_DIR";

/// Overrides the state folder; without it, a [`CONFIG_DIR_ENV`] folder holds the state too.
pub const STATE_DIR_ENV: &str = "HUBSETUP_STATE_DIR";

/// The settings folder, or `None` when the OS names no config folder for this user.
pub fn config_dir() -> Option<PathBuf> {
    chosen(CONFIG_DIR_ENV).or_else(|| Some(dirs::config_dir()?.join(APP_ID)))
}

/// The state folder.
pub fn state_dir() -> Result<PathBuf, NoStateDir> {
    chosen(STATE_DIR_ENV)
        .or_else(|| chosen(CONFIG_DIR_ENV))
        .or_else(|| {
            Some(
                dirs::state_dir()
                    .or_else(dirs::data_local_dir)?
                    .join(APP_ID),
            )
        })
        .ok_or(NoStateDir)
}

/// The OS names no local data folder for this user (no home folder, a broken profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "This system names no folder for app data, so IoT Hub Setup has nowhere to keep its \
     progress. Set {STATE_DIR_ENV} to a folder only you can write to, then try again."
)]
pub struct NoStateDir;

fn chosen(variable: &str) -> Option<PathBuf> {
    non_empty(std::env::var_os(variable))
}

/// An empty variable counts as unset, as `HUBSETUP_CONFIG_DIR= hubsetup …` means.
fn non_empty(value: Option<OsString>) -> Option<PathBuf> {
    value.filter(|dir| !dir.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests never set the override variables, so the folders are the OS's own.
    fn overridden() -> bool {
        chosen(CONFIG_DIR_ENV).is_some() || chosen(STATE_DIR_ENV).is_some()
    }

    #[cfg(windows)]
    #[test]
    fn windows_keeps_settings_in_appdata_and_state_in_localappdata() {
        assert!(!overridden());
        // dirs asks the shell for the known folders; Windows also publishes them in the
        // environment, which makes an independent check.
        let appdata = PathBuf::from(std::env::var_os("APPDATA").unwrap());
        let local = PathBuf::from(std::env::var_os("LOCALAPPDATA").unwrap());
        assert_eq!(config_dir().unwrap(), appdata.join(APP_ID));
        assert_eq!(state_dir().unwrap(), local.join(APP_ID));
    }

    #[cfg(target_os = "macos")]
    #[test]
    fn macos_keeps_both_in_application_support() {
        assert!(!overridden());
        let support = dirs::home_dir()
            .unwrap()
            .join("Library/Application Support")
            .join(APP_ID);
        assert_eq!(config_dir().unwrap(), support);
        assert_eq!(state_dir().unwrap(), support);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_follows_the_xdg_folders() {
        assert!(!overridden());
        let home = dirs::home_dir().unwrap();
        let xdg = |variable: &str, default: &str| {
            std::env::var_os(variable)
                .filter(|dir| !dir.is_empty())
                .map_or_else(|| home.join(default), PathBuf::from)
        };
        assert_eq!(
            config_dir().unwrap(),
            xdg("XDG_CONFIG_HOME", ".config").join(APP_ID)
        );
        assert_eq!(
            state_dir().unwrap(),
            xdg("XDG_STATE_HOME", ".local/state").join(APP_ID)
        );
    }

    #[test]
    fn an_empty_override_counts_as_unset() {
        assert_eq!(non_empty(Some(OsString::new())), None);
        assert_eq!(non_empty(None), None);
        assert_eq!(
            non_empty(Some("portable".into())),
            Some(PathBuf::from("portable"))
        );
    }
}
