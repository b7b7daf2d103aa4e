// The sandbox's hosts for Node clients that take only a host name (Azure's device SDK, MQTT.js,
// ws): every TLS connection to a host under the sandbox's domain goes to its loopback address
// instead, on the sandbox's port for the Azure port asked for (443, 5671, 8883); the TLS
// handshake still names and checks the host. The sandbox's CA comes from NODE_EXTRA_CA_CERTS.
//
//   HUBSETUP_SANDBOX_SUFFIX=sandbox.test HUBSETUP_SANDBOX_LOOPBACK=127.0.0.1:PORT \
//   HUBSETUP_SANDBOX_PORTS='{"5671":PORT,"8883":PORT}' NODE_EXTRA_CA_CERTS=ca.pem node …
//
// Import it before any client connects: it replaces `tls.connect`, which they all call.
import tls from "node:tls";

const suffix = process.env.HUBSETUP_SANDBOX_SUFFIX;
const [address, httpsPort] = process.env.HUBSETUP_SANDBOX_LOOPBACK.split(":");
const ports = { 443: Number(httpsPort), ...JSON.parse(process.env.HUBSETUP_SANDBOX_PORTS ?? "{}") };
const connect = tls.connect;

// tls.connect(options[, callback]) or tls.connect(port[, host][, options][, callback]), as
// Node documents it (rhea uses the second form, MQTT.js and ws the first).
function normalized(args) {
  const rest = [...args];
  const callback = typeof rest.at(-1) === "function" ? rest.pop() : undefined;
  if (typeof rest[0] === "object" && rest[0] !== null) {
    return { options: rest[0], callback };
  }
  const [port, host, options] = typeof rest[1] === "string" ? rest : [rest[0], undefined, rest[1]];
  return { options: { ...options, port, host: host ?? options?.host }, callback };
}

tls.connect = function sandboxConnect(...args) {
  const { options, callback } = normalized(args);
  const host = options.host ?? options.servername;
  if (typeof host !== "string" || !host.toLowerCase().endsWith(`.${suffix}`)) {
    return connect.apply(this, args);
  }
  const port = ports[String(options.port ?? 443)];
  if (port === undefined) {
    throw new Error(`The sandbox serves no port ${options.port} for ${host}.`);
  }
  const redirected = { ...options, host: address, port, servername: options.servername ?? host };
  return callback ? connect.call(this, redirected, callback) : connect.call(this, redirected);
};
