// Microsoft's device SDK for Node (npm azure-iot-device with azure-iot-device-amqp and
// azure-iot-device-mqtt), unmodified, as the oracle for the sandbox's device endpoints: it
// sends one message with the credentials read from standard input (a device connection string,
// or a shared access signature) over the transport named, and prints one line of JSON:
// {"sent": true, "messageId": …} or {"error": <the error's constructor name>, "message": …}.
//
//   node device-send.mjs Amqp|AmqpWs|Mqtt|MqttWs [RUN] < credentials
//
// The sandbox's hosts are reached through sandbox-hosts.mjs (see there for the environment).
// RUN becomes the message's application property `run`, so that a test finds it again.
import "./sandbox-hosts.mjs";
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import device from "azure-iot-device";
import amqp from "azure-iot-device-amqp";
import mqtt from "azure-iot-device-mqtt";

const { Client, Message } = device;
const { Amqp, AmqpWs } = amqp;
const { Mqtt, MqttWs } = mqtt;

const transports = { Amqp, AmqpWs, Mqtt, MqttWs };
const [name, run = ""] = process.argv.slice(2);
const Transport = transports[name];
if (!Transport) {
  process.stderr.write(`usage: node device-send.mjs ${Object.keys(transports).join("|")} [RUN] < credentials\n`);
  process.exit(64);
}
const credentials = readFileSync(0, "utf8").trim();
// What must never be printed: the key, or the token's signature.
const secrets = [/SharedAccessKey=([^;]+)/, /sig=([^&]+)/].map((re) => credentials.match(re)?.[1]).filter(Boolean);
const masked = (text) => secrets.reduce((t, secret) => t.split(secret).join("****"), String(text));
const print = (result) => process.stdout.write(masked(JSON.stringify(result)) + "\n");

const client = credentials.startsWith("SharedAccessSignature ")
  ? Client.fromSharedAccessSignature(credentials, Transport)
  : Client.fromConnectionString(credentials, Transport);
// A refusal is the answer wanted here, not something to retry for minutes.
client.setRetryPolicy({ shouldRetry: () => false, nextRetryTimeout: () => 0 });

const message = new Message(JSON.stringify({ temperature: 20.5 }));
message.messageId = randomUUID();
message.contentType = "application/json";
message.contentEncoding = "utf-8";
message.properties.add("run", run);

const timer = setTimeout(() => {
  print({ error: "Timeout", message: "no answer within 30 s" });
  process.exit(1);
}, 30000);
try {
  await client.open();
  await client.sendEvent(message);
  print({ sent: true, messageId: message.messageId });
} catch (error) {
  print({ error: error?.constructor?.name ?? "unknown", message: error?.message ?? String(error) });
} finally {
  clearTimeout(timer);
  await client.close().catch(() => {});
  process.exit(0);
}
