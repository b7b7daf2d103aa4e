// OpenPGP.js (the library behind Proton Mail) as the tests' second OpenPGP implementation:
// it makes the version 6 and Curve448 keys gpg 2.2 cannot, opens what `hubsetup export`
// writes, and writes what `hubsetup open` must open.
//
//   node openpgp.mjs generate TYPE V6 NAME ADDRESS DIR  -> DIR/public.asc, DIR/secret.asc; prints the fingerprint
//   node openpgp.mjs decrypt SECRET.asc MESSAGE.asc [SIGNER.asc]  -> the text on stdout, the signature on stderr
//   node openpgp.mjs encrypt RECIPIENT.asc SIGNER-SECRET.asc TEXT-FILE OUT.asc
import { readFile, writeFile, mkdir } from "node:fs/promises";
import * as openpgp from "openpgp";

const [command, ...args] = process.argv.slice(2);

// TYPE: curve25519, curve448 or rsa (RFC 9580 algorithms), or curve25519Legacy (EdDSA and
// ECDH, which GnuPG 2.2 reads). Version 6 keys announce SEIPDv2 (AEAD), as RFC 9580 tools do.
async function generate([type, v6, name, email, dir]) {
  const kind = type === "curve25519Legacy" ? { type: "ecc", curve: type } : { type };
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...kind,
    rsaBits: 3072,
    userIDs: [{ name, email }],
    format: "armored",
    config: { v6Keys: v6 === "true", aeadProtect: v6 === "true" },
  });
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}/public.asc`, publicKey);
  await writeFile(`${dir}/secret.asc`, privateKey);
  const key = await openpgp.readKey({ armoredKey: publicKey });
  process.stdout.write(key.getFingerprint().toUpperCase() + "\n");
}

async function decrypt([secretFile, messageFile, signerFile]) {
  const decryptionKeys = await openpgp.readPrivateKey({ armoredKey: await readFile(secretFile, "utf8") });
  const message = await openpgp.readMessage({ armoredMessage: await readFile(messageFile, "utf8") });
  const verificationKeys = signerFile
    ? await openpgp.readKey({ armoredKey: await readFile(signerFile, "utf8") })
    : undefined;
  const { data, signatures } = await openpgp.decrypt({ message, decryptionKeys, verificationKeys, format: "binary" });
  process.stdout.write(Buffer.from(data));
  const checked = [];
  for (const signature of signatures) {
    try {
      await signature.verified;
      checked.push({ keyID: signature.keyID.toHex().toUpperCase(), valid: true });
    } catch (error) {
      checked.push({ keyID: signature.keyID.toHex().toUpperCase(), valid: false, error: String(error) });
    }
  }
  process.stderr.write(JSON.stringify({ signatures: checked, packets: message.packets.map((p) => `${p.constructor.tag}:${p.version ?? ""}`) }) + "\n");
}

async function encrypt([recipientFile, signerFile, textFile, outFile]) {
  const encryptionKeys = await openpgp.readKey({ armoredKey: await readFile(recipientFile, "utf8") });
  const signingKeys = await openpgp.readPrivateKey({ armoredKey: await readFile(signerFile, "utf8") });
  const message = await openpgp.createMessage({ binary: await readFile(textFile) });
  await writeFile(outFile, await openpgp.encrypt({ message, encryptionKeys, signingKeys }));
}

const commands = { generate, decrypt, encrypt };
if (!commands[command]) {
  process.stderr.write(`unknown command ${command}\n`);
  process.exit(2);
}
await commands[command](args);
