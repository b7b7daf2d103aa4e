//! Windows' proxy settings: the user's Internet Options (registry values that Internet
//! Options and group policy write), else the machine's WinHTTP proxy (`netsh winhttp set
//! proxy`); and WinHTTP to run automatic-configuration scripts.
//!
//! WinHTTP has no safe wrapper among our dependencies, so this module calls it directly; every
//! string it hands back is read and freed in one place ([`take`]).
#![allow(unsafe_code)]

use std::ptr::null;

use windows_sys::Win32::Foundation::{GetLastError, GlobalFree};
use windows_sys::Win32::Networking::WinHttp::{
    WinHttpCloseHandle, WinHttpGetDefaultProxyConfiguration, WinHttpGetProxyForUrl, WinHttpOpen,
    WINHTTP_ACCESS_TYPE_NAMED_PROXY, WINHTTP_ACCESS_TYPE_NO_PROXY, WINHTTP_AUTOPROXY_CONFIG_URL,
    WINHTTP_AUTOPROXY_OPTIONS, WINHTTP_PROXY_INFO,
};

use super::{ProxySettings, ScriptError};
use crate::NetError;

/// Where Windows keeps the user's Internet Options.
const INTERNET_SETTINGS: &str = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings";

/// WinHTTP's errors for a script it could not fetch, and for one that did not run.
const UNABLE_TO_DOWNLOAD_SCRIPT: u32 = 12167;
const BAD_AUTO_PROXY_SCRIPT: u32 = 12166;

pub(super) fn system_settings() -> Result<Option<ProxySettings>, NetError> {
    if let Some(options) = internet_options(INTERNET_SETTINGS)? {
        return Ok(Some(options));
    }
    winhttp_default()
}

/// The proxy of the Internet Options under `key` (in `HKEY_CURRENT_USER`): its script
/// (`AutoConfigURL`) and its proxy when on (`ProxyEnable`, `ProxyServer`, `ProxyOverride`).
fn internet_options(key: &str) -> Result<Option<ProxySettings>, NetError> {
    use winreg::enums::HKEY_CURRENT_USER;
    let Ok(settings) = winreg::RegKey::predef(HKEY_CURRENT_USER).open_subkey(key) else {
        return Ok(None);
    };
    let text = |name: &str| {
        settings
            .get_value::<String, _>(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let enabled: u32 = settings.get_value("ProxyEnable").unwrap_or(0);
    let manual = match text("ProxyServer").filter(|_| enabled != 0) {
        Some(server) => Some(ProxySettings::from_internet_options(
            &server,
            &text("ProxyOverride").unwrap_or_default(),
        )?),
        None => None,
    };
    let settings = match (text("AutoConfigURL"), manual) {
        (Some(script), manual) => Some(manual.unwrap_or_default().with_script(script.trim())),
        (None, manual) => manual,
    };
    Ok(settings.map(|s| s.found_in("Internet Options")))
}

/// The machine's WinHTTP proxy, which services and some managed machines rely on.
fn winhttp_default() -> Result<Option<ProxySettings>, NetError> {
    let mut info = WINHTTP_PROXY_INFO::default();
    // SAFETY: `info` is a valid out-parameter; WinHTTP allocates its strings with
    // GlobalAlloc, which `take` frees.
    let read = unsafe { WinHttpGetDefaultProxyConfiguration(&mut info) } != 0;
    let (proxy, bypass) = unsafe { (take(info.lpszProxy), take(info.lpszProxyBypass)) };
    match proxy {
        Some(proxy) if read && info.dwAccessType == WINHTTP_ACCESS_TYPE_NAMED_PROXY => {
            let settings =
                ProxySettings::from_internet_options(&proxy, &bypass.unwrap_or_default())?;
            Ok(Some(settings.found_in("WinHTTP (netsh winhttp)")))
        }
        _ => Ok(None),
    }
}

/// What the script at `script_url` answers for `https://{host}/`: WinHTTP's proxy list, or
/// `None` for `DIRECT`.
pub(super) fn run_script(script_url: &str, host: &str) -> Result<Option<String>, ScriptError> {
    let agent = wide("IoT Hub Setup");
    // SAFETY: null proxy and bypass are allowed with NO_PROXY; the handle is closed below.
    let session = unsafe {
        WinHttpOpen(
            agent.as_ptr(),
            WINHTTP_ACCESS_TYPE_NO_PROXY,
            null(),
            null(),
            0,
        )
    };
    if session.is_null() {
        return Err(broken(script_url, unsafe { GetLastError() }));
    }
    let url = wide(&format!("https://{host}/"));
    let script = wide(script_url);
    let mut options = WINHTTP_AUTOPROXY_OPTIONS {
        dwFlags: WINHTTP_AUTOPROXY_CONFIG_URL,
        lpszAutoConfigUrl: script.as_ptr(),
        // The script's server may want the user's Windows logon, as browsers give it.
        fAutoLogonIfChallenged: 1,
        ..WINHTTP_AUTOPROXY_OPTIONS::default()
    };
    let mut info = WINHTTP_PROXY_INFO::default();
    // SAFETY: the strings outlive the call; `info`'s strings are freed by `take`.
    let answered =
        unsafe { WinHttpGetProxyForUrl(session, url.as_ptr(), &mut options, &mut info) } != 0;
    let error = unsafe { GetLastError() };
    let (proxy, _) = unsafe {
        WinHttpCloseHandle(session);
        (take(info.lpszProxy), take(info.lpszProxyBypass))
    };
    match answered {
        true if info.dwAccessType == WINHTTP_ACCESS_TYPE_NAMED_PROXY => Ok(proxy),
        true => Ok(None),
        false if error == UNABLE_TO_DOWNLOAD_SCRIPT => Err(ScriptError::Unreachable {
            url: script_url.to_owned(),
        }),
        false => Err(broken(script_url, error)),
    }
}

fn broken(url: &str, error: u32) -> ScriptError {
    ScriptError::Broken {
        url: url.to_owned(),
        detail: match error {
            BAD_AUTO_PROXY_SCRIPT => "it has an error, or gives no answer".to_owned(),
            other => format!("WinHTTP error {other}"),
        },
    }
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// A string WinHTTP allocated, read and freed.
///
/// # Safety
/// `text` is null or a NUL-terminated UTF-16 string from `GlobalAlloc`, not used afterwards.
unsafe fn take(text: *mut u16) -> Option<String> {
    if text.is_null() {
        return None;
    }
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    let read = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    unsafe { GlobalFree(text.cast()) };
    Some(read)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::ptr::null_mut;

    use super::*;

    /// A PAC file served once per request on loopback, as an intranet server would.
    fn serve_script(script: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{script}",
                    script.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        format!("http://{address}/proxy.pac")
    }

    const CORPORATE_SCRIPT: &str = r#"
        function FindProxyForURL(url, host) {
            if (isPlainHostName(host) || dnsDomainIs(host, ".internal.corp")) return "DIRECT";
            if (shExpMatch(host, "*.azure-devices.net")) return "PROXY devices.corp:3128; DIRECT";
            return "PROXY proxy.corp:8080; PROXY backup.corp:8080";
        }"#;

    #[test]
    fn windows_runs_the_script_for_each_host() {
        let settings = ProxySettings::none().with_script(&serve_script(CORPORATE_SCRIPT));
        let proxy_of = |host: &str| settings.for_host(host).map(|t| t.authority());
        assert_eq!(
            proxy_of("management.azure.com").as_deref(),
            Some("proxy.corp:8080")
        );
        assert_eq!(
            proxy_of("contoso-plant-hub.azure-devices.net").as_deref(),
            Some("devices.corp:3128")
        );
        assert_eq!(proxy_of("wiki.internal.corp"), None);
        assert_eq!(proxy_of("intranet"), None);
        assert_eq!(settings.script_failure("management.azure.com"), None);
    }

    #[test]
    fn a_script_that_cannot_be_had_leaves_the_proxy_beside_it() {
        let gone = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/proxy.pac", listener.local_addr().unwrap())
        };
        let settings = ProxySettings::parse(Some("proxy.corp:8080"), None)
            .unwrap()
            .with_script(&gone);
        assert_eq!(
            settings.script_failure("management.azure.com"),
            Some(ScriptError::Unreachable { url: gone.clone() })
        );
        assert_eq!(
            settings
                .for_host("management.azure.com")
                .unwrap()
                .authority(),
            "proxy.corp:8080"
        );
        let broken = ProxySettings::none().with_script(&serve_script("this is not JavaScript {"));
        assert!(
            matches!(
                broken.script_failure("management.azure.com"),
                Some(ScriptError::Broken { .. })
            ),
            "{:?}",
            broken.script_failure("management.azure.com")
        );
        assert_eq!(broken.for_host("management.azure.com"), None);
    }

    /// Written under a key of the test's own, never the user's real Internet Options.
    #[test]
    fn internet_options_are_read_from_the_registry() {
        use winreg::enums::HKEY_CURRENT_USER;
        let key = format!(
            r"Software\HubSetupTests\{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let root = winreg::RegKey::predef(HKEY_CURRENT_USER);
        let (settings, _) = root.create_subkey(&key).unwrap();
        assert_eq!(internet_options(&key).unwrap(), None, "no proxy set");
        settings
            .set_value("ProxyServer", &"proxy.corp:8080")
            .unwrap();
        settings.set_value("ProxyEnable", &0u32).unwrap();
        assert_eq!(
            internet_options(&key).unwrap(),
            None,
            "a proxy switched off"
        );
        settings.set_value("ProxyEnable", &1u32).unwrap();
        settings.set_value("ProxyOverride", &"<local>").unwrap();
        let read = internet_options(&key).unwrap().unwrap();
        assert_eq!(read.https.as_ref().unwrap().authority(), "proxy.corp:8080");
        assert_eq!(read.for_host("intranet"), None);
        assert_eq!(read.script_url(), None);
        settings
            .set_value("AutoConfigURL", &"http://wpad.corp/proxy.pac")
            .unwrap();
        let scripted = internet_options(&key).unwrap().unwrap();
        assert_eq!(scripted.script_url(), Some("http://wpad.corp/proxy.pac"));
        assert_eq!(
            scripted.https, read.https,
            "the proxy beside the script is kept"
        );
        settings.set_value("ProxyEnable", &0u32).unwrap();
        let script_only = internet_options(&key).unwrap().unwrap();
        assert_eq!(script_only.https, None);
        assert!(script_only.any());
        root.delete_subkey_all(&key).unwrap();
    }

    /// `netsh winhttp set proxy` as an API; the machine's setting is put back afterwards.
    #[test]
    fn the_machine_winhttp_proxy_is_read() {
        use windows_sys::Win32::Networking::WinHttp::WinHttpSetDefaultProxyConfiguration;
        if winhttp_default().unwrap().is_some() {
            eprintln!("skipped: this machine has a WinHTTP proxy, which the test must not change");
            return;
        }
        let mut proxy = wide("http=web.corp:80;https=secure.corp:3128");
        let mut bypass = wide("<local>;*.internal.corp");
        let mut info = WINHTTP_PROXY_INFO {
            dwAccessType: WINHTTP_ACCESS_TYPE_NAMED_PROXY,
            lpszProxy: proxy.as_mut_ptr(),
            lpszProxyBypass: bypass.as_mut_ptr(),
        };
        // SAFETY: the strings outlive the call, which copies them.
        assert_ne!(unsafe { WinHttpSetDefaultProxyConfiguration(&mut info) }, 0);
        let read = winhttp_default();
        let mut none = WINHTTP_PROXY_INFO {
            dwAccessType: WINHTTP_ACCESS_TYPE_NO_PROXY,
            lpszProxy: null_mut(),
            lpszProxyBypass: null_mut(),
        };
        assert_ne!(unsafe { WinHttpSetDefaultProxyConfiguration(&mut none) }, 0);
        let read = read.unwrap().expect("the proxy just set");
        assert_eq!(read.https.as_ref().unwrap().authority(), "secure.corp:3128");
        assert_eq!(read.for_host("wiki.internal.corp"), None);
        assert_eq!(read.for_host("intranet"), None);
    }
}
