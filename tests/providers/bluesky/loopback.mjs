// Confine a Node process to the loopback interface; import it before anything else.
//
// - servers: `server.listen(port)` binds every interface, and none of @atproto/dev-env's
//   servers takes a host, so `net.Server.prototype.listen` adds 127.0.0.1 whenever the caller
//   gave no host or socket path;
// - connections: a TCP (or TLS) connection to a host that is not loopback is refused before
//   any name lookup;
// - names: only loopback names are looked up (through /etc/hosts), so the system's DNS server
//   is never asked; DNS queries proper (TXT records, for handle resolution) go to 127.0.0.1,
//   where nothing answers.
//
// Every refusal is written to standard error as a line starting with "devnet: refused".

import dns from 'node:dns'
import { syncBuiltinESMExports } from 'node:module'
import net from 'node:net'

export const LOOPBACK = '127.0.0.1'
dns.setDefaultResultOrder('ipv4first') // "localhost" must mean 127.0.0.1, not ::1

// -- listen on 127.0.0.1 only ------------------------------------------------------------------

const originalListen = net.Server.prototype.listen
net.Server.prototype.listen = function listen(...args) {
  const [first] = args
  if (args.length === 0 || typeof first === 'function') {
    args.unshift(0, LOOPBACK) // listen() / listen(cb): a random port
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, LOOPBACK) // listen(port[, backlog][, cb])
  } else if (first && typeof first === 'object' && !Array.isArray(first)) {
    const isHandle = '_handle' in first || 'fd' in first
    if (!isHandle && first.path === undefined && first.host === undefined) {
      args[0] = { ...first, host: LOOPBACK }
    }
  }
  return originalListen.apply(this, args)
}

// -- connect to loopback only ------------------------------------------------------------------

const isLoopback = (host) =>
  host === 'localhost' ||
  host === '::1' ||
  host === '[::1]' ||
  /^127\.\d+\.\d+\.\d+$/.test(host) ||
  /^::ffff:127\.\d+\.\d+\.\d+$/.test(host)

const targetHost = (args) => {
  let [first] = args
  if (Array.isArray(first)) first = first[0] // net.connect() passes its normalized arguments
  if (first && typeof first === 'object') {
    if (first.path !== undefined) return null // a Unix socket
    return first.host ?? 'localhost'
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    return typeof args[1] === 'string' ? args[1] : 'localhost'
  }
  return null // connect(path)
}

const refusal = (what, code) => {
  const error = new Error(`devnet: refused ${what} (loopback only)`)
  error.code = code
  process.stderr.write(`${error.message}\n`)
  return error
}

// Name lookups: only loopback names resolve (through /etc/hosts); nothing asks the system's DNS
// server. DNS queries proper (handle resolution by TXT record) go to 127.0.0.1, where nothing
// answers. The network's own handles (*.test) resolve over HTTP on loopback.
const originalLookup = dns.lookup
dns.lookup = function lookup(hostname, options, callback) {
  const done = typeof options === 'function' ? options : callback
  if (typeof hostname === 'string' && hostname && !isLoopback(hostname)) {
    process.nextTick(done, refusal(`a DNS lookup of ${hostname}`, 'ENOTFOUND'))
    return {}
  }
  return originalLookup.call(this, hostname, options, callback)
}
const originalPromisesLookup = dns.promises.lookup
dns.promises.lookup = async function lookup(hostname, options) {
  if (typeof hostname === 'string' && hostname && !isLoopback(hostname)) {
    throw refusal(`a DNS lookup of ${hostname}`, 'ENOTFOUND')
  }
  return originalPromisesLookup.call(this, hostname, options)
}
dns.setServers([LOOPBACK])
dns.promises.setServers([LOOPBACK])
syncBuiltinESMExports() // `import { lookup } from 'node:dns'` must see the wrapper too

const originalConnect = net.Socket.prototype.connect
net.Socket.prototype.connect = function connect(...args) {
  const host = targetHost(args)
  if (host !== null && !isLoopback(host)) {
    const error = refusal(`a connection to ${host}`, 'ECONNREFUSED')
    process.nextTick(() => this.destroy(error))
    return this
  }
  return originalConnect.apply(this, args)
}
