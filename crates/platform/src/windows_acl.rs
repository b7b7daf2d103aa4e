//! Files only the current user may open, on Windows: a protected access list (nothing
//! inherited from the folder) with a single entry granting the current user full access.
//!
//! Win32's security functions have no safe wrapper among our dependencies, so this module
//! calls them directly; every call is checked.
#![allow(unsafe_code)]

use std::io;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE};
use windows_sys::Win32::Security::Authorization::{SetNamedSecurityInfoW, SE_FILE_OBJECT};
use windows_sys::Win32::Security::{
    AddAccessAllowedAce, CopySid, GetLengthSid, GetTokenInformation, InitializeAcl, TokenUser,
    ACCESS_ALLOWED_ACE, ACL, ACL_REVISION, DACL_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSID, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::FILE_ALL_ACCESS;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// A security identifier in a buffer aligned for Win32 (SIDs and ACLs are DWORD-aligned).
pub(crate) struct Sid(Vec<u64>);

impl Sid {
    pub(crate) fn as_psid(&self) -> PSID {
        self.0.as_ptr().cast_mut().cast()
    }
}

/// Replaces `path`'s access list with one that lets only the current user in.
pub(crate) fn restrict_to_current_user(path: &Path) -> io::Result<()> {
    let user = current_user()?;
    // SAFETY: `user` holds a valid SID copied by CopySid.
    let sid_length = unsafe { GetLengthSid(user.as_psid()) } as usize;
    // The ACE's trailing `SidStart` field is where the SID begins, so it is not counted twice.
    let acl_length = (size_of::<ACL>() + size_of::<ACCESS_ALLOWED_ACE>() - size_of::<u32>()
        + sid_length)
        .next_multiple_of(4);
    let mut acl = vec![0u64; acl_length.div_ceil(8)];
    let acl_pointer = acl.as_mut_ptr().cast::<ACL>();
    // SAFETY: the buffer is at least `acl_length` bytes and 8-byte aligned.
    if unsafe { InitializeAcl(acl_pointer, acl_length as u32, ACL_REVISION) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the ACL was initialised with room for exactly this entry.
    if unsafe { AddAccessAllowedAce(acl_pointer, ACL_REVISION, FILE_ALL_ACCESS, user.as_psid()) }
        == 0
    {
        return Err(io::Error::last_os_error());
    }
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: `wide` is NUL-terminated; owner, group and SACL are left unchanged (null).
    let status = unsafe {
        SetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            acl_pointer,
            ptr::null(),
        )
    };
    if status == ERROR_SUCCESS {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(status as i32))
    }
}

/// The user this process runs as, from its access token.
pub(crate) fn current_user() -> io::Result<Sid> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle; `token` receives a handle we close.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let user = token_user(token);
    // SAFETY: `token` was opened above and is closed once.
    unsafe { CloseHandle(token) };
    user
}

fn token_user(token: HANDLE) -> io::Result<Sid> {
    let mut needed = 0u32;
    // SAFETY: a null buffer of length 0 asks only for the size needed.
    unsafe { GetTokenInformation(token, TokenUser, ptr::null_mut(), 0, &mut needed) };
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
    // SAFETY: the buffer has the size the first call asked for, and is 8-byte aligned.
    let filled = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            needed,
            &mut needed,
        )
    };
    if filled == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: GetTokenInformation(TokenUser) filled the buffer with a TOKEN_USER whose SID
    // points into the same buffer, which lives until the copy below is made.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    // SAFETY: `sid` is valid (see above).
    let length = unsafe { GetLengthSid(sid) };
    let copy = Sid(vec![0u64; (length as usize).div_ceil(8)]);
    // SAFETY: `copy` has room for `length` bytes.
    if unsafe { CopySid(length, copy.as_psid(), sid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(copy)
}

#[cfg(test)]
pub(crate) mod tests {
    //! Reads an access list back, as Windows Explorer's Security tab would show it.
    use super::*;
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::GetNamedSecurityInfoW;
    use windows_sys::Win32::Security::{
        AclSizeInformation, EqualSid, GetAce, GetAclInformation, GetSecurityDescriptorControl,
        ACE_HEADER, ACL_SIZE_INFORMATION, PSECURITY_DESCRIPTOR, SE_DACL_PROTECTED,
    };

    /// winnt.h's type of an access-allowed entry (windows-sys files it under another feature).
    const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;

    /// Who may open a file: whether the list is protected from inheritance, and for each
    /// entry whether it allows, whether it names the current user, and its access mask.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) struct AccessList {
        pub protected: bool,
        pub entries: Vec<(bool, bool, u32)>,
    }

    pub(crate) fn access_list(path: &Path) -> AccessList {
        let user = current_user().unwrap();
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        let mut dacl: *mut ACL = ptr::null_mut();
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: out-pointers are valid; the descriptor is freed with LocalFree below.
        let status = unsafe {
            GetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                ptr::null_mut(),
                ptr::null_mut(),
                &mut dacl,
                ptr::null_mut(),
                &mut descriptor,
            )
        };
        assert_eq!(status, ERROR_SUCCESS, "GetNamedSecurityInfoW failed");
        let (mut control, mut revision) = (0u16, 0u32);
        // SAFETY: `descriptor` is the valid descriptor returned above.
        assert_ne!(
            unsafe { GetSecurityDescriptorControl(descriptor, &mut control, &mut revision) },
            0
        );
        let mut size: ACL_SIZE_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: `dacl` points into `descriptor`; `size` is the struct this class fills.
        assert_ne!(
            unsafe {
                GetAclInformation(
                    dacl,
                    (&mut size as *mut ACL_SIZE_INFORMATION).cast(),
                    size_of::<ACL_SIZE_INFORMATION>() as u32,
                    AclSizeInformation,
                )
            },
            0
        );
        let entries = (0..size.AceCount)
            .map(|index| {
                let mut ace: *mut core::ffi::c_void = ptr::null_mut();
                // SAFETY: `index` is below the ACL's entry count.
                assert_ne!(unsafe { GetAce(dacl, index, &mut ace) }, 0);
                // SAFETY: every ACE starts with an ACE_HEADER; allowed ones are read whole.
                let header = unsafe { &*ace.cast::<ACE_HEADER>() };
                let allows = header.AceType == ACCESS_ALLOWED_ACE_TYPE;
                let (names_user, mask) = if allows {
                    let allowed = unsafe { &*ace.cast::<ACCESS_ALLOWED_ACE>() };
                    let sid = (&allowed.SidStart as *const u32).cast_mut().cast();
                    (unsafe { EqualSid(sid, user.as_psid()) } != 0, allowed.Mask)
                } else {
                    (false, 0)
                };
                (allows, names_user, mask)
            })
            .collect();
        // SAFETY: allocated by GetNamedSecurityInfoW, freed once.
        unsafe { LocalFree(descriptor) };
        AccessList {
            protected: control & SE_DACL_PROTECTED != 0,
            entries,
        }
    }

    /// Whether this runs under Wine, whose mainline releases keep no file access lists (they
    /// become Unix modes, and reading one back shows a list made up from the mode).
    pub(crate) fn under_wine() -> bool {
        use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
        // SAFETY: both names are NUL-terminated; ntdll is loaded in every process.
        unsafe {
            let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
            !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
        }
    }

    /// On Windows, the list is exactly one entry for the current user and inherits nothing.
    /// Under Wine only the owner's own access can be checked (see [`under_wine`]); the
    /// release workflow runs these tests on a real Windows runner.
    pub(crate) fn assert_only_the_current_user_may_open(path: &Path) {
        let list = access_list(path);
        if under_wine() {
            assert!(
                list.entries.contains(&(true, true, FILE_ALL_ACCESS)),
                "the owner has full access: {list:?}"
            );
        } else {
            assert_eq!(
                list,
                AccessList {
                    protected: true,
                    entries: vec![(true, true, FILE_ALL_ACCESS)],
                }
            );
        }
    }

    #[test]
    fn a_restricted_file_lets_only_its_user_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.txt");
        std::fs::write(&path, b"x").unwrap();
        restrict_to_current_user(&path).unwrap();
        assert_only_the_current_user_may_open(&path);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"x",
            "the owner can still read it"
        );
    }

    #[test]
    fn a_missing_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let error = restrict_to_current_user(&dir.path().join("absent")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
