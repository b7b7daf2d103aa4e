// The OpenPGP.js project's Web Key Directory client (npm @openpgp/wkd-client), unmodified, as
// the oracle for the sandbox's WKD: it looks an address up and prints the fingerprint found.
//
//   HUBSETUP_SANDBOX_LOOPBACK=127.0.0.1:PORT HUBSETUP_SANDBOX_CA=ca.pem node wkd.mjs ADDRESS
//
// The sandbox's hosts all live on one loopback address, as in the Python tests: the connector
// below gives fetch that address instead of DNS; TLS still checks each host's name against the
// sandbox's CA.
import { readFileSync } from "node:fs";
import tls from "node:tls";
import { Agent, setGlobalDispatcher } from "undici";
import WKD from "@openpgp/wkd-client";
import * as openpgp from "openpgp";

const [address, port] = process.env.HUBSETUP_SANDBOX_LOOPBACK.split(":");
const ca = [...tls.rootCertificates, readFileSync(process.env.HUBSETUP_SANDBOX_CA, "utf8")];
setGlobalDispatcher(
  new Agent({
    connect(options, callback) {
      const socket = tls.connect({ host: address, port: Number(port), servername: options.hostname, ca, ALPNProtocols: ["http/1.1"] });
      socket.once("secureConnect", () => callback(null, socket));
      socket.once("error", (error) => callback(error, null));
    },
  }),
);

try {
  const binary = await new WKD().lookup({ email: process.argv[2] });
  const key = await openpgp.readKey({ binaryKey: binary });
  process.stdout.write(key.getFingerprint().toUpperCase() + "\n");
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
