// Files the user picks in the native dialog: one helper, so every screen offers the same kinds.
import { open } from "@tauri-apps/plugin-dialog";

const KINDS = {
  publicKey: { name: "OpenPGP public key", extensions: ["asc", "gpg", "pgp", "pub", "key"] },
  secretKey: { name: "OpenPGP secret key", extensions: ["asc", "gpg", "pgp", "key", "sec"] },
  handoff: { name: "Encrypted hand-off", extensions: ["asc", "gpg", "pgp"] },
};

/** The path of the one file picked, or null when the dialog was closed. */
export async function pickFile(kind: keyof typeof KINDS): Promise<string | null> {
  const picked = await open({ multiple: false, filters: [KINDS[kind]] });
  return typeof picked === "string" ? picked : null;
}
