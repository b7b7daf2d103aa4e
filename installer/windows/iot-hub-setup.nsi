; IoT Hub Setup for Windows: the one installer definition.
;
; The same file is built by the tests (makensis on Linux, the result run under Wine by
; tests/python/test_windows_installer.py) and by the release workflow (makensis on Windows):
;
;   makensis -DVERSION=0.1.0 -DBINDIR=<folder> -DOUTFILE=<setup.exe>
;            [-DWEBVIEW2_BOOTSTRAPPER=<MicrosoftEdgeWebview2Setup.exe>] iot-hub-setup.nsi
;
; BINDIR holds iot-hub-setup.exe, hubsetup.exe and, from a GNU build, WebView2Loader.dll.
; makensis works in this file's folder, so relative BINDIR and OUTFILE paths start there: give
; absolute ones.
;
; Silent installs: `setup.exe /S`, plus `/PATH=no` to leave the machine PATH alone.
; Silent uninstalls: `uninstall.exe /S`.

Unicode true
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel admin
; Two large executables: solid LZMA gives the smallest download. The tests, which install and
; remove it at once, ask for zlib (-DCOMPRESSOR=zlib): a tenth of the time to pack.
!ifndef COMPRESSOR
  !define COMPRESSOR "/SOLID lzma"
!endif
SetCompressor ${COMPRESSOR}

!ifndef VERSION
  !error "Define VERSION, e.g. -DVERSION=0.1.0"
!endif
!ifndef BINDIR
  !error "Define BINDIR, the folder holding iot-hub-setup.exe and hubsetup.exe"
!endif
!ifndef OUTFILE
  !error "Define OUTFILE, the setup program to write"
!endif
!define /ifndef WEBVIEW2_BOOTSTRAPPER ""
; The uninstaller is written inside the setup program, so it cannot be signed afterwards: the
; release workflow passes its signing command (e.g. `"…\signtool.exe" sign /sha1 … /fd sha256`),
; which makensis runs on the uninstaller before packing it.
!ifdef SIGN_UNINSTALLER
  !uninstfinalize '${SIGN_UNINSTALLER} "%1"'
!endif

!define PRODUCT "IoT Hub Setup"
!define APP_EXE "iot-hub-setup.exe"
!define CLI_EXE "hubsetup.exe"
; The app's identifier names its per-user folders (crates/platform/src/paths.rs).
!define APP_ID "io.hubsetup.iot-hub-setup"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\IoTHubSetup"
!define ENVIRONMENT_KEY "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
; Microsoft's client ID of the Evergreen WebView2 Runtime.
!define WEBVIEW2_CLIENT "Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
!define WEBVIEW2_URL "https://go.microsoft.com/fwlink/p/?LinkId=2124703"
; Paths on the building machine: makensis on Linux does not read "\" as a separator.
!ifdef NSIS_WIN32_MAKENSIS
  !define /ifndef SEP "\"
!else
  !define /ifndef SEP "/"
!endif
; makensis works in this file's folder, where ${__FILEDIR__} no longer leads when makensis was
; given a relative path to this file; then the icon is found from here.
!if /FileExists "${__FILEDIR__}${SEP}..${SEP}..${SEP}src-tauri${SEP}icons${SEP}icon.ico"
  !define ICON "${__FILEDIR__}${SEP}..${SEP}..${SEP}src-tauri${SEP}icons${SEP}icon.ico"
!else
  !define ICON "..${SEP}..${SEP}src-tauri${SEP}icons${SEP}icon.ico"
!endif
; What the uninstaller leaves, and says it leaves: the user's own data.
!define KEPT_STRINGS "Your saved connection strings stay in Windows Credential Manager"
!define KEPT_SETTINGS "your settings in the ${APP_ID} folders of %APPDATA% and %LOCALAPPDATA%"
!define KEPT_REMOVAL "To remove them, delete them in ${PRODUCT} before uninstalling, or delete those folders."

Name "${PRODUCT}"
OutFile "${OUTFILE}"
BrandingText "${PRODUCT} ${VERSION}"
InstallDir "$PROGRAMFILES64\${PRODUCT}"
; An upgrade goes where the last install went.
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
ShowInstDetails show
ShowUninstDetails show

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include Sections.nsh
!include WinMessages.nsh
!include WinCore.nsh

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING

Var FinishText

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_INSTFILES
; No "Run IoT Hub Setup" box: it would start the app elevated, as this installer runs.
!define MUI_FINISHPAGE_TEXT "$FinishText"
!insertmacro MUI_PAGE_FINISH

; Three lines fit here.
!define MUI_UNCONFIRMPAGE_TEXT_TOP "${KEPT_STRINGS} and ${KEPT_SETTINGS}. ${KEPT_REMOVAL}"
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

VIProductVersion "${VERSION}.0"
VIFileVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PRODUCT}"
VIAddVersionKey "LegalCopyright" "Copyright ${U+00A9} ${PRODUCT} contributors. MIT or Apache-2.0."


; The machine PATH, edited through the registry API rather than NSIS strings: those hold 1024
; characters (NSIS_MAX_STRLEN), and ReadRegStr reads a longer PATH, which is common, as "", so
; ReadRegStr + WriteRegExpandStr would replace the whole PATH with our one entry. Entries are
; compared whole and case-insensitively, with or without a trailing "\", so $INSTDIR\bin is
; added at most once and only that entry is removed. Everything else, the REG_EXPAND_SZ
; %variables% included, is written back exactly as it was read.
;
; Call with "add" or "remove" pushed. Uses $0-$9 and $R0-$R9.
!macro MACHINE_PATH_FUNCTION UN
Function ${UN}EditMachinePath
  Pop $R0
  StrCpy $R1 "$INSTDIR\bin"
  StrLen $R2 $R1
  StrCpy $R3 "$R1\"
  IntOp $R4 $R2 + 1

  ; KEY_QUERY_VALUE | KEY_SET_VALUE | KEY_WOW64_64KEY
  System::Call 'advapi32::RegOpenKeyExW(p ${HKEY_LOCAL_MACHINE}, w "${ENVIRONMENT_KEY}", i 0, i 0x103, *p .r1) i .r0'
  ${If} $0 <> 0
    DetailPrint "Could not open the machine environment (error $0); PATH left as it was."
    Return
  ${EndIf}

  StrCpy $2 0
  StrCpy $3 0
  System::Call 'advapi32::RegQueryValueExW(p r1, w "Path", p 0, *i .r2, p 0, *i .r3) i .r0'
  ; No PATH value at all (2, ERROR_FILE_NOT_FOUND) counts as an empty one.
  ${If} $0 = 2
    StrCpy $3 0
  ${ElseIf} $0 <> 0
  ${OrIf} $2 < 1
  ${OrIf} $2 > 2
    DetailPrint "Could not read the machine PATH (error $0, type $2); PATH left as it was."
    System::Call 'advapi32::RegCloseKey(p r1)'
    Return
  ${EndIf}

  ; Room for the value, a ";", the entry and two terminators; GPTR zero-fills, so the value
  ; is terminated even if it was stored without one.
  IntOp $4 $R2 + 3
  IntOp $4 $4 * 2
  IntOp $4 $4 + $3
  System::Call 'kernel32::GlobalAlloc(i 0x40, p r4) p .r5'
  System::Call 'kernel32::GlobalAlloc(i 0x40, p r4) p .r7'
  ${If} $3 > 0
    System::Call 'advapi32::RegQueryValueExW(p r1, w "Path", p 0, p 0, p r5, *i r3) i .r0'
    ${If} $0 <> 0
      DetailPrint "Could not read the machine PATH (error $0); PATH left as it was."
      Goto done
    ${EndIf}
  ${EndIf}

  ; Copy every entry but ours from $5 to $7, joined by ";" as before.
  StrCpy $6 $5   ; the current entry
  StrCpy $9 $7   ; where the next kept entry goes
  StrCpy $8 0    ; how many times ours was found
  StrCpy $R6 1   ; nothing kept yet
  ${Do}
    System::Call 'shlwapi::StrChrW(p r6, i 59) p .r0'
    ${If} $0 P= 0
      System::Call 'kernel32::lstrlenW(p r6) i .R5'
    ${Else}
      IntPtrOp $R5 $0 - $6
      IntOp $R5 $R5 / 2
    ${EndIf}
    ; CSTR_EQUAL is 2.
    System::Call 'kernel32::CompareStringOrdinal(p r6, i R5, w R1, i R2, i 1) i .R8'
    System::Call 'kernel32::CompareStringOrdinal(p r6, i R5, w R3, i R4, i 1) i .R9'
    ${If} $R8 = 2
    ${OrIf} $R9 = 2
      IntOp $8 $8 + 1
    ${Else}
      ${If} $R6 = 0
        System::Call 'kernel32::lstrcpyW(p r9, w ";")'
        IntPtrOp $9 $9 + 2
      ${EndIf}
      IntOp $R9 $R5 + 1
      System::Call 'kernel32::lstrcpynW(p r9, p r6, i R9)'
      IntOp $R9 $R5 * 2
      IntPtrOp $9 $9 + $R9
      StrCpy $R6 0
      StrCpy $R7 $R5   ; the length of the last entry kept
    ${EndIf}
    ${If} $0 P= 0
      ${ExitDo}
    ${EndIf}
    IntPtrOp $6 $0 + 2
  ${Loop}

  ${If} $R0 == "add"
    ${If} $8 > 0
      DetailPrint "$R1 is already on the machine PATH."
      Goto done
    ${EndIf}
    ; A PATH that ends in ";" (an empty last entry) needs no separator.
    ${If} $R6 = 0
    ${AndIf} $R7 > 0
      System::Call 'kernel32::lstrcatW(p r7, w ";")'
    ${EndIf}
    System::Call 'kernel32::lstrcatW(p r7, w R1)'
  ${ElseIf} $8 = 0
    DetailPrint "$R1 was not on the machine PATH."
    Goto done
  ${EndIf}

  System::Call 'kernel32::lstrlenW(p r7) i .r0'
  IntOp $0 $0 + 1
  IntOp $0 $0 * 2
  ; REG_EXPAND_SZ is 2: Windows' own entries are written as %SystemRoot%\...
  System::Call 'advapi32::RegSetValueExW(p r1, w "Path", i 0, i 2, p r7, i r0) i .r0'
  ${If} $0 <> 0
    DetailPrint "Could not write the machine PATH (error $0); PATH left as it was."
  ${ElseIf} $R0 == "add"
    DetailPrint "Added $R1 to the machine PATH."
  ${Else}
    DetailPrint "Removed $R1 from the machine PATH."
  ${EndIf}
  ; Explorer, and what it starts from now on, picks up the new PATH.
  SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000

done:
  System::Call 'kernel32::GlobalFree(p r5)'
  System::Call 'kernel32::GlobalFree(p r7)'
  System::Call 'advapi32::RegCloseKey(p r1)'
FunctionEnd
!macroend
!insertmacro MACHINE_PATH_FUNCTION ""
!insertmacro MACHINE_PATH_FUNCTION "un."


; The app's window is a WebView2; Windows 11 ships the runtime, Windows 10 may not. The app
; is installed either way (hubsetup needs no runtime), so nothing here fails the install.
Function EnsureWebView2
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\${WEBVIEW2_CLIENT}" "pv"
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "Software\${WEBVIEW2_CLIENT}" "pv"
  ${EndIf}
  ${If} $0 != ""
  ${AndIf} $0 != "0.0.0.0"
    DetailPrint "Microsoft Edge WebView2 Runtime $0 is installed."
    Return
  ${EndIf}

!if "${WEBVIEW2_BOOTSTRAPPER}" != ""
  ; Microsoft's small bootstrapper, which downloads the runtime.
  DetailPrint "Installing the Microsoft Edge WebView2 Runtime, which ${PRODUCT} needs..."
  InitPluginsDir
  File "/oname=$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" "${WEBVIEW2_BOOTSTRAPPER}"
  ClearErrors
  ExecWait '"$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" /silent /install' $0
  ${IfNot} ${Errors}
  ${AndIf} $0 = 0
    DetailPrint "Installed the Microsoft Edge WebView2 Runtime."
    Return
  ${EndIf}
  DetailPrint "The Microsoft Edge WebView2 Runtime did not install (exit code $0)."
!endif

  DetailPrint "${PRODUCT} needs the Microsoft Edge WebView2 Runtime, which is not installed. Get it from ${WEBVIEW2_URL}"
  MessageBox MB_OK|MB_ICONINFORMATION "${PRODUCT} needs the Microsoft Edge WebView2 Runtime, which is not \
    installed on this computer. Windows 11 includes it.$\r$\n$\r$\nGet the Evergreen Runtime from \
    ${WEBVIEW2_URL}$\r$\n$\r$\nThe hubsetup command works without it." /SD IDOK
FunctionEnd


Section "${PRODUCT}" SecApp
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "${BINDIR}${SEP}${APP_EXE}"
  ; The GNU build loads WebView2 through this DLL; the MSVC build links the loader in.
!if /FileExists "${BINDIR}${SEP}WebView2Loader.dll"
  File "${BINDIR}${SEP}WebView2Loader.dll"
!endif
  ; Always installed; only putting it on PATH is a choice.
  SetOutPath "$INSTDIR\bin"
  File "${BINDIR}${SEP}${CLI_EXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  ; The shortcut starts the app in its own folder.
  SetOutPath "$INSTDIR"
  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"
  StrCpy $FinishText "${PRODUCT} is installed: open it from the Start menu.$\r$\n$\r$\n\
    The hubsetup command is in $INSTDIR\bin."
SectionEnd

Section "hubsetup command on PATH" SecPath
  Push "add"
  Call EditMachinePath
  StrCpy $FinishText "$FinishText It is on PATH for command prompts opened from now on."
SectionEnd

Section "-Register"
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "${PRODUCT}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "EstimatedSize" $0
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  Call EnsureWebView2
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The ${PRODUCT} app, its Start-menu shortcut and the hubsetup command."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecPath} "Run hubsetup by name in any new command prompt: adds $INSTDIR\bin to the PATH of all users."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function .onInit
  SetRegView 64
  ; The shortcut is for every user of the computer.
  SetShellVarContext all
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/PATH=" $1
  ${IfNot} ${Errors}
  ${AndIf} $1 == "no"
    !insertmacro UnselectSection ${SecPath}
  ${EndIf}
FunctionEnd


Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

; Only what the installer put here goes; the user's own data stays (KEPT_* above), and
; so would anything else someone saved in the install folder.
Section "Uninstall"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\bin\${CLI_EXE}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR\bin"
  RMDir "$INSTDIR"
  Push "remove"
  Call un.EditMachinePath
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  DetailPrint "${KEPT_STRINGS}."
  DetailPrint "Your settings stay in %APPDATA%\${APP_ID} and %LOCALAPPDATA%\${APP_ID}."
  DetailPrint "${KEPT_REMOVAL}"
SectionEnd
