// Microsoft's AMQP client for Node (npm rhea-promise, which Azure's Event Hubs SDK is built on),
// unmodified, as the oracle for the sandbox's redirect from a hub's own host to its built-in
// Event Hub-compatible endpoint: it signs in with a hub's service connection string (read from
// standard input) as Azure's documentation describes, asks for `messages/events/$management`,
// and prints the redirect it gets as JSON: {"condition", "hostname", "port", "address"}.
//
//   HUBSETUP_SANDBOX_AMQP=127.0.0.1:PORT HUBSETUP_SANDBOX_CA=ca.pem node iothub-redirect.mjs
//
// The sandbox's AMQP port stands for the hub's port 5671; TLS still checks the hub's name.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { Connection } from "rhea-promise";

const text = readFileSync(0, "utf8").trim();
const field = (name) => text.split(";").map((part) => part.split(/=(.*)/s)).find(([key]) => key === name)?.[1];
const host = field("HostName");
const policy = field("SharedAccessKeyName");
const key = field("SharedAccessKey");

// IoT Hub's SAS token: HMAC-SHA256 with the decoded key over the encoded resource and expiry.
const expiry = Math.floor(Date.now() / 1000) + 300;
const resource = encodeURIComponent(host);
const signature = createHmac("sha256", Buffer.from(key, "base64")).update(`${resource}\n${expiry}`).digest("base64");
const token = `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(signature)}&se=${expiry}&skn=${policy}`;

const [address, port] = process.env.HUBSETUP_SANDBOX_AMQP.split(":");
const connection = new Connection({
  transport: "tls",
  host: address,
  port: Number(port),
  hostname: host,
  servername: host,
  ca: [readFileSync(process.env.HUBSETUP_SANDBOX_CA, "utf8")],
  username: `${policy}@sas.root.${host.split(".")[0]}`,
  password: token,
  reconnect: false,
});

try {
  await connection.open();
} catch (error) {
  process.stdout.write(JSON.stringify({ refused: String(error.condition ?? error.name ?? error) }) + "\n");
  process.exit(2);
}

const answer = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve({ condition: "no answer within 20 s" }), 20000);
  const done = (error) => {
    clearTimeout(timer);
    resolve(error ?? { condition: "closed without an error" });
  };
  connection
    .createReceiver({
      source: { address: `amqps://${host}/messages/events/$management` },
      onMessage: () => done({ condition: "a message instead of a redirect" }),
      onError: (context) => done(context.receiver?.error),
      onClose: (context) => done(context.receiver?.error),
    })
    .catch((error) => done(error));
});
await connection.close().catch(() => {});
const info = answer.info ?? {};
process.stdout.write(
  JSON.stringify({ condition: answer.condition, hostname: info.hostname, port: info.port, address: info.address }) + "\n",
);
