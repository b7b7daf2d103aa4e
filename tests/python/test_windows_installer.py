"""The Windows installer (installer/windows/iot-hub-setup.nsi), run under Wine.

Each test installs into a Wine prefix of its own, copied from one made for the module, and
reads the result the way Windows keeps it: files under drive_c, the registry through Wine's
`reg`, the installed `hubsetup.exe` run through Wine. The desktop app itself cannot start under
Wine (there is no WebView2 runtime), so it is only checked to be in place.

HUBSETUP_WINDOWS_INSTALLER is the setup program to test; HUBSETUP_WINE_SHIM is the
bcryptprimitives.dll that lets Rust programs run under Wine 8 (xtask/wine/bcryptprimitives.c).
"""

import json
import os
import pathlib
import struct
import tomllib

import pytest
from wine import Wine, base_prefix, prefix_copy  # noqa: F401 (base_prefix is a fixture)

INSTALLER = os.environ.get("HUBSETUP_WINDOWS_INSTALLER")
if not INSTALLER:
    pytest.skip("HUBSETUP_WINDOWS_INSTALLER is not set (cargo xtask test builds the installer and sets it)", allow_module_level=True)

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]

PRODUCT = "IoT Hub Setup"
INSTALL_DIR = "C:\\Program Files\\IoT Hub Setup"
BIN_DIR = INSTALL_DIR + "\\bin"
UNINSTALL_KEY = "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\IoTHubSetup"
ENVIRONMENT_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"
APP_ID = "io.hubsetup.iot-hub-setup"
# The Windows hubsetup.exe of the build, to look into Credential Manager after an uninstall.
BUILT_CLI = os.environ.get("HUBSETUP_WINDOWS_BIN")
# A made-up device string (no hub behind it): the vault only stores it.
KEPT_STRING = "HostName=kept-hub.azure-devices.net;DeviceId=kept.device;SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


class InstallerWine(Wine):
    """A prefix and what the installer changes in it."""

    def machine_path(self):
        return self.reg_query(ENVIRONMENT_KEY, "Path")

    def set_machine_path(self, value):
        self.run("reg", "add", ENVIRONMENT_KEY, "/v", "Path", "/t", "REG_EXPAND_SZ", "/d", value, "/f")
        assert self.machine_path() == value

    def install(self, *options):
        self.run(INSTALLER, "/S", *options)
        self.wait()

    def uninstall(self):
        # An NSIS uninstaller copies itself to %TEMP% and starts the copy, which can delete
        # the original, and returns at once; the copy is done when the prefix is idle.
        self.run(f"{INSTALL_DIR}\\uninstall.exe", "/S")
        self.wait()


@pytest.fixture
def wine(base_prefix):
    with prefix_copy(base_prefix, InstallerWine) as wine:
        yield wine


def shortcut(wine):
    return wine.file(f"C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\{PRODUCT}.lnk")


def test_silent_install_puts_app_cli_shortcut_uninstall_key_and_path_in_place(wine):
    path_before = wine.machine_path()
    assert BIN_DIR.lower() not in path_before.lower()

    wine.install()

    for name in ["iot-hub-setup.exe", "WebView2Loader.dll", "bin\\hubsetup.exe", "uninstall.exe"]:
        assert wine.file(f"{INSTALL_DIR}\\{name}").is_file(), name
    assert shortcut(wine).is_file()
    assert wine.reg_query(UNINSTALL_KEY, "DisplayName") == PRODUCT
    assert wine.reg_query(UNINSTALL_KEY, "DisplayVersion") == VERSION
    assert wine.reg_query(UNINSTALL_KEY, "InstallLocation") == INSTALL_DIR
    assert wine.reg_query(UNINSTALL_KEY, "QuietUninstallString") == f'"{INSTALL_DIR}\\uninstall.exe" /S'
    # Appended once, everything before it (Wine's %SystemRoot% entries) unchanged.
    assert wine.machine_path() == f"{path_before};{BIN_DIR}"

    assert wine.run(f"{BIN_DIR}\\hubsetup.exe", "--version").stdout.strip() == f"hubsetup {VERSION}"
    # A new process reads the machine PATH from the registry, so the command is found by name.
    assert wine.run("cmd", "/c", "hubsetup", "--version").stdout.strip() == f"hubsetup {VERSION}"


def test_uninstall_removes_the_program_and_keeps_the_users_data(wine):
    path_before = wine.machine_path()
    wine.install()
    assert wine.file(INSTALL_DIR).is_dir() and shortcut(wine).is_file()
    # The installed CLI keeps a string: in Credential Manager, listed in %APPDATA%.
    saved = wine.run(f"{BIN_DIR}\\hubsetup.exe", "vault", "save", "--label", "kept", stdin=KEPT_STRING)
    assert "Saved" in saved.stdout + saved.stderr, saved.stdout + saved.stderr
    appdata = wine.run("cmd", "/c", "echo %APPDATA%").stdout.strip()
    assert appdata.lower().startswith("c:\\users\\"), appdata
    index = wine.file(f"{appdata}\\{APP_ID}\\vault-index.json")
    index_before = index.read_text()

    wine.uninstall()

    assert not wine.file(INSTALL_DIR).exists()
    assert not shortcut(wine).exists()
    assert not wine.key_exists(UNINSTALL_KEY)
    assert wine.machine_path() == path_before
    assert index.read_text() == index_before
    # The string is still in Credential Manager, for the next install (or the build's CLI).
    assert BUILT_CLI, "HUBSETUP_WINDOWS_BIN must name the build's hubsetup.exe (cargo xtask test sets it)"
    listed = wine.run(BUILT_CLI, "vault", "list", "--json")
    assert [(e["name"], e["label"]) for e in json.loads(listed.stdout)] == [("kept-hub.azure-devices.net/devices/kept.device", "kept")]
    shown = wine.run(BUILT_CLI, "vault", "show", "kept", "--reveal")
    kept = KEPT_STRING in shown.stdout
    assert kept, "the kept string is whole"


def test_path_no_leaves_the_machine_path_alone(wine):
    path_before = wine.machine_path()

    wine.install("/PATH=no")

    assert wine.file(f"{BIN_DIR}\\hubsetup.exe").is_file()
    assert wine.machine_path() == path_before
    assert wine.run("cmd", "/c", "hubsetup", "--version", check=False).returncode != 0


def test_a_long_machine_path_is_kept_whole_and_the_entry_added_once(wine):
    # Longer than the 1024 characters an NSIS string holds, which is why the installer edits
    # PATH through the registry API.
    tools = ";".join(f"C:\\Tools\\vendor-{n:02d}\\bin" for n in range(100))
    long_path = f"{wine.machine_path()};{tools}"
    assert len(long_path) > 2 * 1024
    wine.set_machine_path(long_path)

    wine.install()
    assert wine.machine_path() == f"{long_path};{BIN_DIR}"
    wine.install()  # again, as an upgrade does
    assert wine.machine_path() == f"{long_path};{BIN_DIR}"

    wine.uninstall()
    assert wine.machine_path() == long_path


def version_resource(exe):
    """The VS_FIXEDFILEINFO product version and the string table of a PE's version resource."""
    data = pathlib.Path(exe).read_bytes()
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[pe:pe + 4] == b"PE\0\0"
    sections, optional_size = struct.unpack_from("<H12xH", data, pe + 6)
    optional = pe + 24
    assert struct.unpack_from("<H", data, optional)[0] == 0x20B, "not a 64-bit PE"
    resources_rva = struct.unpack_from("<I", data, optional + 112 + 2 * 8)[0]

    def offset(rva):
        for n in range(sections):
            size, address, _, raw = struct.unpack_from("<IIII", data, optional + optional_size + 40 * n + 8)
            if address <= rva < address + size:
                return rva - address + raw
        raise AssertionError(f"RVA {rva:#x} is in no section")

    root = offset(resources_rva)

    def entry(directory, wanted=None):
        """The (first, or the one with id `wanted`) entry of a resource directory."""
        named, ids = struct.unpack_from("<HH", data, directory + 12)
        for n in range(named + ids):
            name, target = struct.unpack_from("<II", data, directory + 16 + 8 * n)
            if wanted is None or name == wanted:
                return root + (target & 0x7FFFFFFF)
        raise AssertionError(f"no resource {wanted}")

    RT_VERSION = 16
    leaf = entry(entry(entry(root, RT_VERSION)))  # type, then name, then language
    rva, size = struct.unpack_from("<II", data, leaf)
    info = data[offset(rva):offset(rva) + size]

    def blocks(start, end):
        """(key, value, children start, end) of each version block between start and end."""
        while start < end:
            length, value_length, text = struct.unpack_from("<HHH", info, start)
            key_end = start + 6
            while info[key_end:key_end + 2] != b"\0\0":
                key_end += 2
            key = info[start + 6:key_end].decode("utf-16-le")
            value_start = (key_end + 2 + 3) & ~3
            value_end = value_start + (value_length * 2 if text else value_length)
            yield key, info[value_start:value_end], (value_end + 3) & ~3, start + length
            start = (start + length + 3) & ~3

    (key, fixed, children, end), = blocks(0, len(info))
    assert key == "VS_VERSION_INFO"
    signature, _, _, _, product_ms, product_ls = struct.unpack_from("<6I", fixed)
    assert signature == 0xFEEF04BD
    product = (product_ms >> 16, product_ms & 0xFFFF, product_ls >> 16, product_ls & 0xFFFF)
    strings = {}
    for key, _, table_start, table_end in blocks(children, end):
        if key == "StringFileInfo":
            for _, _, string_start, string_end in blocks(table_start, table_end):
                for name, value, _, _ in blocks(string_start, string_end):
                    strings[name] = value.decode("utf-16-le").rstrip("\0")
    return product, strings


def test_the_installers_version_resource_names_the_version():
    product, strings = version_resource(INSTALLER)
    assert product == (*map(int, VERSION.split(".")), 0)
    assert strings["ProductVersion"] == VERSION
    assert strings["FileVersion"] == VERSION
    assert strings["ProductName"] == PRODUCT
    assert strings["CompanyName"] == PRODUCT
