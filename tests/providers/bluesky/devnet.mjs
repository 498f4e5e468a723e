// A real, local Bluesky network for the tests: PLC, PDS, AppView (bsky), bsync and Ozone from
// Bluesky's own `@atproto/dev-env`, confined to the loopback interface.
//
// Usage: DIALOGO_BLUESKY_ENV=<npm prefix of scripts/setup-bluesky> node devnet.mjs  (Node >= 22)
//
// It loads dev-env at once, then reads one JSON line on its standard input,
//   {"dbPostgresUrl": "postgresql://…", "redisHost": "127.0.0.1:6379"}
// (a database the AppView, bsync and Ozone may fill, and a Redis, which dev-env insists on
// being told about), starts the network, and prints one line `DEVNET_READY {json}` with the
// service URLs once every service answers. It keeps running, and closes the network on
// SIGTERM/SIGINT or when its standard input closes (so it never outlives the test process
// that started it).
//
// Loopback only: loopback.mjs, imported first, makes every server listen on 127.0.0.1 (none of
// dev-env's servers takes a host: they would bind every interface) and refuses connections and
// name lookups beyond loopback.

import { LOOPBACK } from './loopback.mjs'
import { createRequire } from 'node:module'
import path from 'node:path'
import readline from 'node:readline'
import { pathToFileURL } from 'node:url'

// -- the network -------------------------------------------------------------------------------

const envDir = process.env.DIALOGO_BLUESKY_ENV
if (!envDir) {
  process.stderr.write('devnet: DIALOGO_BLUESKY_ENV is not set (run scripts/setup-bluesky)\n')
  process.exit(2)
}
const requireFromEnv = createRequire(path.join(path.resolve(envDir), 'package.json'))
// Loading dev-env takes seconds: it starts now, while the caller starts PostgreSQL and Redis.
const loading = import(pathToFileURL(requireFromEnv.resolve('@atproto/dev-env')).href)

let network
let closing = false
const shutdown = async (reason) => {
  if (closing) return
  closing = true
  process.stderr.write(`devnet: closing (${reason})\n`)
  const timer = setTimeout(() => process.exit(1), 10_000)
  timer.unref()
  try {
    await network?.close()
  } catch (err) {
    process.stderr.write(`devnet: close failed: ${err?.stack ?? err}\n`)
  }
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

const input = readline.createInterface({ input: process.stdin })
const firstLine = new Promise((resolve) => input.once('line', resolve))
input.on('close', () => void shutdown('stdin closed'))

const config = JSON.parse(await firstLine)
process.env.REDIS_HOST = config.redisHost
const devEnv = await loading

const started = Date.now()
network = await devEnv.TestNetwork.create({
  dbPostgresUrl: config.dbPostgresUrl,
  dbPostgresSchema: 'dialogo',
  pds: { hostname: 'localhost' },
})

// Every service must answer before the tests start; TestNetwork.create already waited for the
// initial indexing, so this is a last check, not a wait.
const health = async (url, pathName) => {
  const response = await fetch(new URL(pathName, url))
  if (!response.ok) throw new Error(`devnet: ${url}${pathName} answered ${response.status}`)
}
await Promise.all([
  health(network.pds.url, '/xrpc/_health'),
  health(network.bsky.url, '/xrpc/_health'),
  health(network.ozone.url, '/xrpc/_health'),
  health(network.plc.url, '/_health'),
])

const toLoopback = (url) => url.replace('//localhost:', `//${LOOPBACK}:`)
const info = {
  pds: toLoopback(network.pds.url),
  bsky: toLoopback(network.bsky.url),
  plc: toLoopback(network.plc.url),
  ozone: toLoopback(network.ozone.url),
  bsync: toLoopback(network.bsync.url),
  bskyDid: network.bsky.serverDid,
  handleDomains: network.pds.ctx.cfg.identity.serviceHandleDomains,
  startupMs: Date.now() - started,
}
process.stdout.write(`DEVNET_READY ${JSON.stringify(info)}\n`)
