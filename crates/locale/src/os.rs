//! The locale the OS names for formats (numbers, money, dates), which may differ from the
//! language of its menus: a German user of an English Windows still writes `1.234,50 €`.
//!
//! - Linux and the BSDs: `LC_ALL`, then `LC_NUMERIC`, then `LANG`, POSIX's order.
//! - Windows: the user's regional format (`GetUserDefaultLocaleName`), Settings' "Regional
//!   format".
//! - macOS: the user's preferred locale, through `sys-locale`.
// Windows' locale comes from a C API; the call is this module's only unsafe code.
#![allow(unsafe_code)]

#[cfg(all(unix, not(target_vendor = "apple")))]
pub(crate) fn locale_name() -> Option<String> {
    ["LC_ALL", "LC_NUMERIC", "LANG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

#[cfg(windows)]
pub(crate) fn locale_name() -> Option<String> {
    use windows_sys::Win32::Globalization::GetUserDefaultLocaleName;
    // LOCALE_NAME_MAX_LENGTH, with the terminating NUL.
    let mut name = [0u16; 85];
    // SAFETY: the buffer is writable and as long as the length the call is given.
    let written = unsafe { GetUserDefaultLocaleName(name.as_mut_ptr(), name.len() as i32) };
    // The count includes the terminating NUL; 0 means it failed.
    (written > 1).then(|| String::from_utf16_lossy(&name[..written as usize - 1]))
}

#[cfg(target_vendor = "apple")]
pub(crate) fn locale_name() -> Option<String> {
    sys_locale::get_locale()
}

#[cfg(all(test, windows))]
mod tests {
    #[test]
    fn the_regional_format_is_read() {
        // Under Wine, Windows' answer follows the Unix locale it runs in.
        let name = super::locale_name().expect("Windows names a regional format");
        assert!(crate::Locale::parse(&name).is_some(), "{name}");
    }
}
